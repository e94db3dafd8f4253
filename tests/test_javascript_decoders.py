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


def tts_uplink(device: str, fport: int, payload: bytes) -> tuple[str, bytes]:
    up = {
        "end_device_ids": {"device_id": device, "application_ids": {"application_id": "soil"}},
        "uplink_message": {"f_port": fport, "f_cnt": fport, "frm_payload": base64.b64encode(payload).decode()},
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
        command = [sys.executable, "-m", "iot_suitcase", "devices", "add", "soil-1", "--model", "acme/soil-probe"]
        command += ["--site", "park", "--registry", str(registry.path)]
        added = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, env=ingest.env)
        assert added.returncode == 0, added.stderr
        messages = [tts_uplink("soil-1", port, b"\x00") for port in (99, 98, 97)]
        messages += [("suitcase/kit-1/up", b'{"readings": {"temperature": 20.5}}'), tts_uplink("soil-1", 2, GOOD)]
        publish_all(mosquitto.host, mosquitto.port, messages)
        wait_until(lambda: bool(influxdb.points(influx_db, "external_temperature")), 20, "the decoded uplink")
        wait_until(lambda: ingest.log().count("code=codec_error") == 3, 20, "three codec errors")
    finally:
        ingest.terminate()
    [probe] = influxdb.points(influx_db, "external_temperature")
    assert (probe["device"], probe["value"]) == ("soil-1", 22.5)
    [battery] = influxdb.points(influx_db, "battery_voltage")
    assert battery["value"] == pytest.approx(3.3), "mV in the field map, V in the catalog"
    assert [p["value"] for p in influxdb.points(influx_db, "temperature")] == [20.5], "the other device went on"
    log = ingest.log()
    for said in ("ran past its time limit", "went past its memory limit", "require is not defined"):
        assert said in log
