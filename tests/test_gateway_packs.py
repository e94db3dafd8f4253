"""A gateway's SenML pack naming several devices (#16 point 5), on real Mosquitto and InfluxDB: stored under each
named device when the registry names the sender as their gateway, with an uplink per device so each one's
silence is seen; refused whole (device_mismatch) from any other sender or for any other device."""

from __future__ import annotations

import json
from pathlib import Path

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, publish_all, unique, wait_until


def pack(*devices: str) -> bytes:
    return json.dumps(
        [{"bn": f"{device}:", "n": "temperature", "u": "Cel", "v": 20 + n} for n, device in enumerate(devices)]
    ).encode()


def test_a_gateway_publishes_for_its_devices_and_for_no_other(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    registry = RegistryFile(tmp_path / "registry.yaml")
    with registry.edit() as devices:
        devices.add(make_spec({"id": "gw-1", "model": "native", "site": "harbour"}))
        for device in ("room-1", "room-2"):
            devices.add(make_spec({"id": device, "model": "native", "site": "harbour", "gateway": "gw-1"}))
        devices.add(make_spec({"id": "room-3", "model": "native", "site": "harbour"}))
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
        publish_all(
            mosquitto.host,
            mosquitto.port,
            [
                ("suitcase/gw-1/senml", pack("room-1", "room-2")),
                ("suitcase/gw-1/senml", pack("room-1", "room-3")),  # room-3 has no gateway
                ("suitcase/room-1/senml", pack("room-1", "room-2")),  # room-1 is nobody's gateway
            ],
        )
        wait_until(lambda: ingest.log().count("code=device_mismatch") == 2, 20, "the two refusals")
        wait_until(lambda: len(influxdb.points(influx_db, "temperature")) == 2, 20, "the gateway's readings")
    finally:
        ingest.terminate()
    stored = {(p["device"], p["site"], p["value"]) for p in influxdb.points(influx_db, "temperature")}
    assert stored == {("room-1", "harbour", 20.0), ("room-2", "harbour", 21.0)}
    uplinks = sorted(p["device"] for p in influxdb.points(influx_db, "suitcase_uplinks"))
    assert uplinks == ["gw-1", "room-1", "room-2"], "each device's silence shows: one uplink each"
    log = ingest.log()
    assert "'gw-1' published readings of 'room-3', which is registered with gateway none" in log
    assert "'room-1' published readings of 'room-2', which is registered with gateway gw-1" in log
