"""Issue #9's benchmark of the ingest service on real Mosquitto and InfluxDB (bench/README.md)."""
