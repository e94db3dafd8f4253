"""A native sensor added without a kind (#17 point 3): its kind follows from what it sends, in its points' tags
from the first message and in the registry, so its kind's dashboard and its site's row show it."""

from __future__ import annotations

from pathlib import Path

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, publish_all, unique, wait_until


def test_a_native_device_without_a_kind_gets_the_kind_its_readings_show(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    registry = RegistryFile(tmp_path / "registry.yaml")
    with registry.edit() as devices:
        devices.add(make_spec({"id": "kit-1", "model": "native", "site": "harbour"}))
        devices.add(make_spec({"id": "kit-2", "model": "native", "site": "harbour", "kind": "weather"}))
    assert registry.load().require("kit-1").kind is None
    ingest = IngestProcess(
        tmp_path / "ingest.log",
        {
            "mqtt_host": mosquitto.host,
            "mqtt_port": str(mosquitto.port),
            "mqtt_client_id": unique("suitcase-ingest-"),
            "influx_url": influxdb.url,
            "influx_database": influx_db,
            "registry_file": str(registry.path),
            "unknown_devices": "reject",
            "batch_interval_s": "0.05",
        },
    ).start()
    try:
        reading = b'{"readings": {"co2": 612, "temperature": 21.5, "battery": 80}}'
        publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-1/up", reading), ("suitcase/kit-2/up", reading)])
        wait_until(lambda: len(influxdb.points(influx_db, "co2")) == 2, 20, "both devices' readings")
        wait_until(lambda: registry.load().require("kit-1").kind == "air_quality", 10, "the kind in the registry")
    finally:
        ingest.terminate()
    kinds = {(p["device"], p["kind"]) for p in influxdb.points(influx_db, "co2")}
    assert kinds == {("kit-1", "air_quality"), ("kit-2", "weather")}, "from the first message; a given kind stays"
    assert registry.load().require("kit-2").kind == "weather"
