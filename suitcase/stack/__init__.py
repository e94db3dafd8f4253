"""Real service processes (Mosquitto, InfluxDB 1.x, VictoriaMetrics) for tests and `suitcase up`."""

from suitcase.stack.influxdb import InfluxDB, QueryError
from suitcase.stack.mosquitto import Mosquitto
from suitcase.stack.processes import ManagedProcess, ServiceError, free_port, port_is_listening
from suitcase.stack.victoriametrics import VictoriaMetrics

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
