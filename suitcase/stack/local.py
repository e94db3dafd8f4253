"""The local stack of `scripts/up`: Mosquitto and InfluxDB from the system packages, then ingest.

Whatever already listens on the configured ports is used as it is (a system broker, a remote InfluxDB);
only what is missing is started, as children with configs and data under ``./var/``, and stopped again
when the stack stops.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

from devices.credentials.settings import SecuritySettings
from ingest.config import InfluxFlavour, IngestSettings
from ingest.service import serve
from suitcase.stack.influxdb import InfluxDB
from suitcase.stack.mosquitto import Mosquitto
from suitcase.stack.processes import ManagedProcess, port_is_listening

log = logging.getLogger(__name__)

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def start_missing_services(settings: IngestSettings, var_dir: Path, stack: ExitStack) -> list[str]:
    """Start Mosquitto and InfluxDB where nothing listens yet; return a line per service for the banner."""
    lines = []
    if port_is_listening(settings.mqtt_host, settings.mqtt_port):
        lines.append(f"MQTT broker   mqtt://{settings.mqtt_host}:{settings.mqtt_port} (already running, used as is)")
    elif settings.mqtt_host in _LOCAL_HOSTS:
        broker = Mosquitto(
            var_dir / "mosquitto", port=settings.mqtt_port, host=settings.mqtt_host, extra_config=_broker_security()
        )
        _start(broker, stack)
        secured = "password and ACL files, no anonymous access" if _broker_security() else "anonymous access"
        lines.append(f"MQTT broker   {broker.url} (started, {secured}, data in {broker.data_dir})")
    else:
        lines.append(f"MQTT broker   mqtt://{settings.mqtt_host}:{settings.mqtt_port} (not reachable yet)")

    influx = urlsplit(settings.influx_url)
    host, port = influx.hostname or "127.0.0.1", influx.port or 8086
    if port_is_listening(host, port):
        lines.append(f"InfluxDB      {settings.influx_url} (already running, used as is)")
    elif host in _LOCAL_HOSTS and settings.influx_flavour is InfluxFlavour.V1:
        database = InfluxDB(var_dir / "influxdb", port=port, host=host)
        _start(database, stack)
        database.create_database(settings.influx_database)
        lines.append(f"InfluxDB      {database.url} (started, data in {database.data_dir})")
    else:
        lines.append(f"InfluxDB      {settings.influx_url} (not reachable yet)")
    return lines


def _broker_security() -> str:
    """Once device credentials exist (`suitcase devices credentials`), the broker requires them."""
    security = SecuritySettings()
    if not security.mosquitto_password_file.exists():
        return ""
    return (
        "allow_anonymous false\n"
        f"password_file {security.mosquitto_password_file.resolve()}\n"
        f"acl_file {security.mosquitto_acl_file.resolve()}\n"
    )


def _start(service: ManagedProcess, stack: ExitStack) -> None:
    service.start()
    stack.callback(service.stop)


def banner(settings: IngestSettings, services: list[str]) -> str:
    topic = f"{settings.topic_root}/demo-1/up"
    query = "SELECT * FROM temperature WHERE device = 'demo-1'"
    influx = urlsplit(settings.influx_url)
    return "\n".join(
        [
            "iot-suitcase local stack",
            *(f"  {line}" for line in services),
            f"  database      {settings.influx_database}",
            "Try it:",
            f"  mosquitto_pub -h {settings.mqtt_host} -p {settings.mqtt_port} -q 1 -t {topic} "
            '-m \'{"readings": {"temperature": 21.5, "humidity": 40}}\'',
            f"  influx -host {influx.hostname} -port {influx.port or 8086} -database {settings.influx_database} "
            f'-execute "{query}"',
            "Ctrl-C stops everything.",
        ]
    )


def run_local_stack(settings: IngestSettings, var_dir: Path) -> None:
    with ExitStack() as stack:
        services = start_missing_services(settings, var_dir, stack)
        print(banner(settings, services), flush=True)
        asyncio.run(serve(settings))
