"""A vendor's JavaScript decoder in the running service (#16 point 4), on real Mosquitto and InfluxDB: its
model's uplinks are stored through the decoder's field map; a decoder that loops, allocates without bound or
reads a file costs that one uplink a codec_error reject, while the service keeps storing everything else."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, publish_all, unique, wait_until

DECODERS = Path(__file__).resolve().parent.parent / "devices" / "codecs" / "javascript" / "testdata" / "decoders.toml"
GOOD = bytes.fromhex("08ca2a0ce4")  # 22.50 degC, 42 %, 3300 mV (acme-soil.js)


def tts_uplink(device: str, fport: int, payload: bytes, decoded: dict[str, object] | None = None) -> tuple[str, bytes]:
    message: dict[str, object] = {"f_port": fport, "f_cnt": fport, "frm_payload": base64.b64encode(payload).decode()}
    if decoded is not None:
        message["decoded_payload"] = decoded  # what the network server's payload formatter made
    up = {
        "end_device_ids": {"device_id": device, "application_ids": {"application_id": "soil"}},
        "uplink_message": message,
    }
    return f"v3/soil/devices/{device}/up", json.dumps(up).encode()


def test_a_javascript_decoder_decodes_and_a_broken_one_costs_one_uplink(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    registry = RegistryFile(tmp_path / "registry.yaml")
    ingest = IngestProcess(
        tmp_path / "ingest.log",
        {
            "mqtt_host": mosquitto.host,
            "mqtt_port": str(mosquitto.port),
            "mqtt_client_id": unique("suitcase-ingest-"),
            "influx_url": influxdb.url,
            "influx_database": influx_db,
            "registry_file": str(registry.path),
            "javascript_decoders_file": str(DECODERS),
            "unknown_devices": "reject",
            "batch_interval_s": "0.05",
        },
    )
    with registry.edit() as devices:
        devices.add(make_spec({"id": "kit-1", "model": "native", "site": "park"}))
    ingest.start()
    try:
        for device, model in (("soil-1", "acme/soil-probe"), ("air-1", "acme/air-probe")):
            command = [sys.executable, "-m", "iot_suitcase", "devices", "add", device, "--model", model]
            command += ["--site", "park", "--registry", str(registry.path)]
            added = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=ingest.env)
            assert added.returncode == 0, added.stderr
        messages = [tts_uplink("soil-1", port, b"\x00") for port in (99, 98, 97)]
        messages += [("suitcase/kit-1/up", b'{"readings": {"temperature": 20.5}}'), tts_uplink("soil-1", 2, GOOD)]
        messages.append(tts_uplink("air-1", 1, b"\x02\x80", {"co2ppm": 640, "air": {"temp": 19.0}}))
        publish_all(mosquitto.host, mosquitto.port, messages)
        wait_until(lambda: bool(influxdb.points(influx_db, "external_temperature")), 20, "the decoded uplink")
        wait_until(lambda: bool(influxdb.points(influx_db, "co2")), 20, "the mapped decoded payload")
        wait_until(lambda: ingest.log().count("code=codec_error") == 3, 20, "three codec errors")
    finally:
        ingest.terminate()
    [probe] = influxdb.points(influx_db, "external_temperature")
    assert (probe["device"], probe["value"]) == ("soil-1", 22.5)
    [battery] = influxdb.points(influx_db, "battery_voltage")
    assert battery["value"] == pytest.approx(3.3), "mV in the field map, V in the catalog"
    temperatures = {(p["device"], p["value"]) for p in influxdb.points(influx_db, "temperature")}
    assert temperatures == {("kit-1", 20.5), ("air-1", 19.0)}, "the other devices went on"
    [co2] = influxdb.points(influx_db, "co2")
    assert (co2["device"], co2["value"]) == ("air-1", 640.0), "the network server's decoded payload, mapped"
    log = ingest.log()
    for said in ("ran past its time limit", "went past its memory limit", "require is not defined"):
        assert said in log
