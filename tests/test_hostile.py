"""Hostile devices cannot exhaust memory or disk (#13 point 5), on real Mosquitto and InfluxDB."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.operations.status import STRANGERS_KEPT
from iot_suitcase.servers import InfluxDB, Mosquitto, free_port
from iot_suitcase.stack.local import own_broker
from tests.console import viewer
from tests.helpers import IngestProcess, publish_all, unique, wait_until

pytestmark = pytest.mark.slow


def get(ingest: IngestProcess, path: str) -> tuple[int, bytes]:
    """A console path as a logged-in viewer sees it."""
    answer = viewer(ingest).get(path)
    return answer.status, answer.body


def start(tmp_path: Path, broker: Mosquitto, influxdb: InfluxDB, db: str, root: str, **extra: str) -> IngestProcess:
    settings = {
        "mqtt_host": broker.host,
        "mqtt_port": str(broker.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": root,
        "influx_url": influxdb.url,
        "influx_database": db,
        "batch_interval_s": "0.05",
        **extra,
    }
    return IngestProcess(tmp_path / "ingest.log", settings).start()


def test_a_flood_of_made_up_device_ids_costs_bounded_memory(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("flood")
    malformed = [(f"{root}/stranger-{n}/up", b"not json") for n in range(3000)]
    knocking = [(f"{root}/knock-{n}/up", b'{"readings": {"co2": 500}}') for n in range(3000)]
    ingest = start(tmp_path, mosquitto, influxdb, influx_db, root, unknown_devices="reject")
    try:
        publish_all(mosquitto.host, mosquitto.port, malformed + knocking)
        wait_until(lambda: ingest.log().count("rejected message") >= 6000, 60, "6,000 rejects")
        status, body = get(ingest, "/api/devices")
    finally:
        ingest.terminate()
    assert status == 200
    shown = json.loads(body)
    assert len(shown["unknown_devices"]) == STRANGERS_KEPT, "the newest strangers are kept, no more"
    assert shown["unknown_devices"][0]["id"] == "knock-2999", "newest first"
    assert shown["unknown_device_messages"] == 3000, "every knock is counted"
    assert shown["unknown_devices_not_listed"] >= 3000 - STRANGERS_KEPT
    assert len(shown["devices"]) <= STRANGERS_KEPT, "rejects of unregistered ids are bounded too"


def test_an_oversized_payload_leaves_only_a_bounded_prefix_behind(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("big")
    huge = [(f"{root}/kit-1/up", secrets.token_bytes(1 << 20)) for _ in range(3)]  # a broker with no size limit
    ingest = start(tmp_path, mosquitto, influxdb, influx_db, root)
    try:
        publish_all(mosquitto.host, mosquitto.port, huge)
        wait_until(lambda: ingest.log().count("code=payload_too_large") >= 3, 30, "three rejects")
        status, body = get(ingest, "/api/rejects?limit=10")
        bad = [get(ingest, f"/api/rejects?limit={limit}")[0] for limit in ("-1", "abc", "5000", "0")]
    finally:
        ingest.terminate()
    assert status == 200
    assert len(body) < 20_000, "the API answers with prefixes, not megabytes"
    assert bad == [400, 400, 400, 400], "query parameters are validated"
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "iot_suitcase",
            "rejects",
            "list",
            "--json",
            "--data-dir",
            str(tmp_path / "ingest-data"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rejects = [json.loads(line) for line in listed.splitlines()]
    assert len(rejects) == 3
    for reject, (_topic, payload) in zip(reversed(rejects), huge, strict=True):
        assert len(reject["payload_base64"]) <= 1400, "the first KiB is kept"
        assert "1048576 bytes" in reject["detail"]
        assert hashlib.sha256(payload).hexdigest() in reject["detail"]
    stored = sum(p.stat().st_size for p in (tmp_path / "ingest-data").rglob("*") if p.is_file())
    assert stored < 2 << 20, f"log and rejects store hold {stored} bytes for 3 MB of junk"


def test_the_stacks_broker_refuses_payloads_over_the_limit(tmp_path: Path) -> None:
    settings = IngestSettings(mqtt_port=free_port(), max_payload_bytes=65536)
    broker = own_broker(settings, tmp_path, SecuritySettings(mosquitto_password_file=tmp_path / "none"))
    with broker:
        assert "message_size_limit 65536" in broker.config_path.read_text()
        outcomes = [publish_outcome(broker, size) for size in (1000, 65536, 65537, 10 << 20)]
    assert outcomes[:2] == ["PUBACK 16", "PUBACK 16"], "within the limit: accepted (no subscribers here)"
    assert all(outcome == "disconnected" for outcome in outcomes[2:]), f"over the limit: refused, {outcomes}"


def publish_outcome(broker: Mosquitto, size: int) -> str:
    """What a QoS 1 publisher of ``size`` bytes gets: its PUBACK reason code, or dropped by the broker."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("big-"), protocol=MQTTProtocolVersion.MQTTv5
    )
    outcome: list[str] = []
    client.on_publish = lambda _c, _u, _mid, reason, _p: outcome.append(f"PUBACK {reason.value}")
    client.on_disconnect = lambda *_args: outcome.append("disconnected")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish("suitcase/kit-1/up", b"x" * size, qos=1)
        wait_until(lambda: bool(outcome), 10, "a PUBACK or a disconnect")
    finally:
        client.disconnect()
        client.loop_stop()
    return outcome[0]
