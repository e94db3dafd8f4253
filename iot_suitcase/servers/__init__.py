"""Real server processes (Mosquitto, InfluxDB 1.x, VictoriaMetrics) on free loopback ports: the test fixtures
and the benchmark start them, and so does the local stack (`suitcase up`, `iot_suitcase.stack`)."""

from iot_suitcase.servers.influxdb import InfluxDB, QueryError
from iot_suitcase.servers.mosquitto import Mosquitto
from iot_suitcase.servers.processes import ManagedProcess, ServiceError, free_port, port_is_listening
from iot_suitcase.servers.victoriametrics import VictoriaMetrics

__all__ = [
    "InfluxDB",
    "ManagedProcess",
    "Mosquitto",
    "QueryError",
    "ServiceError",
    "VictoriaMetrics",
    "free_port",
    "port_is_listening",
]
