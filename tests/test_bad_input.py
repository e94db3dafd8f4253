"""The running service survives every kind of bad input, rejects each with its own code, and goes on."""

from __future__ import annotations

import json
from pathlib import Path

from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, publish_all, unique, wait_until

BAD = {
    "malformed_json": b'{"readings": {"temperature": 21.5,',
    "wrong_type": b'{"readings": {"temperature": "warm"}}',
    "not_finite": b'{"readings": {"temperature": NaN}}',
    "out_of_range": b'{"readings": {"humidity": 140}}',
    "unknown_quantity": b'{"readings": {"happiness": 7}}',
    "unknown_unit": b'{"readings": {"temperature": {"value": 20, "unit": "degR"}}}',
    "empty_payload": b"",
    "payload_too_large": b'{"readings": {"temperature": 1}}' + b" " * (64 * 1024),
    "device_mismatch": b'{"device": "someone-else", "readings": {"temperature": 1}}',
    "time_in_future": b'{"time": "2999-01-01T00:00:00Z", "readings": {"temperature": 1}}',
}


def test_service_rejects_bad_input_and_keeps_storing(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("bad")
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": root,
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.1",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        messages = [(f"{root}/sensor-1/up", payload) for payload in BAD.values()]
        # Hostile device ids in the topic: they would be line-protocol or ACL injection if passed through.
        messages += [
            (f"{root}/a,b=c d/up", b'{"readings": {"temperature": 1}}'),
            (f"{root}/x\\/up", b'{"readings": {"temperature": 1}}'),
            (f"{root}/{'d' * 65}/up", b'{"readings": {"temperature": 1}}'),
            (f"{root}/sensor-1/up", bytes(range(256))),
        ]
        messages.append((f"{root}/sensor-1/up", b'{"readings": {"temperature": 19.25}}'))
        publish_all(mosquitto.host, mosquitto.port, messages)
        wait_until(lambda: influxdb.count(influx_db) >= 1, 30, "the good reading after the bad ones")
        assert ingest.proc is not None
        assert ingest.proc.poll() is None, "the service must still run"
    finally:
        assert ingest.terminate() == 0, ingest.log()

    log = ingest.log()
    for code in BAD:
        assert f"code={code} " in log, f"no reject with code {code} in the log"
    assert log.count("code=invalid_device_id ") == 3
    assert "Traceback" not in log
    points = influxdb.points(influx_db, "temperature")
    assert [(p["device"], p["value"]) for p in points] == [("sensor-1", 19.25)]
    assert influxdb.measurements(influx_db) == ["suitcase_rejects", "suitcase_uplinks", "temperature"]
    uplinks = influxdb.points(influx_db, "suitcase_uplinks")
    assert [(u["device"], u["format"], u["readings"]) for u in uplinks] == [("sensor-1", "native", 1.0)]
    reject_points = influxdb.points(influx_db, "suitcase_rejects")
    # empty and oversized payloads are refused before the envelope (and so the device) is read
    before_envelope = {"empty_payload", "payload_too_large"}
    assert sorted(r["reason"] for r in reject_points if r["device"] == "sensor-1") == sorted(
        [*(set(BAD) - before_envelope), "malformed_json"]
    ), "every reject of sensor-1 is counted by reason"
    assert sorted(r["reason"] for r in reject_points if r["device"] == "-") == sorted(
        [*before_envelope, *["invalid_device_id"] * 3]
    )
    stopped = log.split("stopped ")[-1]
    assert "received=15 acked=15 " in stopped
    assert "stored_readings=1 rejected=14 " in stopped


def test_json_logs_carry_device_and_reason_of_every_reject(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("jsonlog")
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": root,
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "log_format": "json",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        publish_all(mosquitto.host, mosquitto.port, [(f"{root}/kit-3/up", b'{"readings": {"co2": -5}}')])
        wait_until(lambda: '"event": "reject"' in ingest.log(), 20, "the reject in the log")
    finally:
        assert ingest.terminate() == 0
    entries = [json.loads(line) for line in ingest.log().splitlines() if line.startswith("{")]
    [reject] = [e for e in entries if e.get("event") == "reject"]
    assert (reject["device"], reject["code"], reject["topic"]) == ("kit-3", "out_of_range", f"{root}/kit-3/up")
    assert "outside the plausible range" in reject["reason"]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
