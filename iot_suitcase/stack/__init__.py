"""The product's local stack (`suitcase up`): its own broker, InfluxDB and Grafana config, the demo fleet.

The server processes themselves are ``iot_suitcase.servers``, which the test fixtures use as well."""
