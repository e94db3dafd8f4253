"""Per-device security on a real Mosquitto configured from the generated password and ACL files (#5)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from devices.credentials import CredentialStore
from devices.credentials.cli import simulator_topics
from devices.credentials.store import ServicePublisher
from suitcase.stack import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, unique, wait_until

ROOT = "suitcase"
ACCEPTED = (0, 16)  # PUBACK: success, or "no matching subscribers" (allowed, nobody listens)


def connect_code(broker: Mosquitto, user: str | None, password: str | None) -> int:
    """The CONNACK reason code a client gets (0 = accepted)."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=unique("probe-"),
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    codes: list[int] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: codes.append(reason.value)
    if user is not None:
        client.username_pw_set(user, password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        wait_until(lambda: bool(codes), 10, "a CONNACK")
    finally:
        client.disconnect()
        client.loop_stop()
    return codes[0]


def publish_as(broker: Mosquitto, user: str, password: str, topic: str, payload: bytes) -> int:
    """Publish at QoS 1 as a device; return the PUBACK reason code (0 = accepted, 135 = not authorized)."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=unique("dev-"), protocol=MQTTProtocolVersion.MQTTv5
    )
    codes: list[int] = []
    client.on_publish = lambda _c, _u, _mid, reason, _p: codes.append(reason.value)
    client.username_pw_set(user, password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1)
        wait_until(lambda: bool(codes), 10, "a PUBACK")
    finally:
        client.disconnect()
        client.loop_stop()
    return codes[0]


def write_files(
    store: CredentialStore, directory: Path, ingest_password: str, publishers: dict[str, ServicePublisher] | None = None
) -> None:
    """The broker's password and ACL files in ``directory`` (where the ``secured`` broker reads them)."""
    store.write_broker_files(
        password_path=directory / "passwd",
        acl_path=directory / "acl",
        topic_root=ROOT,
        ingest_user="ingest",
        ingest_password=ingest_password,
        publishers=publishers,
    )


@pytest.fixture
def secured(tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]) -> tuple[Mosquitto, CredentialStore, str]:
    store = CredentialStore(tmp_path / "credentials.yaml")
    store.issue("kit-a")
    store.issue("kit-b")
    ingest_password = secrets.token_urlsafe(16)
    write_files(store, tmp_path, ingest_password)
    broker = mosquitto_factory(
        extra_config=f"allow_anonymous false\npassword_file {tmp_path / 'passwd'}\nacl_file {tmp_path / 'acl'}\n"
    )
    return broker, store, ingest_password


def test_devices_write_only_their_own_topics_and_strangers_are_refused(
    tmp_path: Path, secured: tuple[Mosquitto, CredentialStore, str], influxdb: InfluxDB, influx_db: str
) -> None:
    broker, store, ingest_password = secured
    # Re-issue to learn kit-a's plaintext (only shown at issue time), then rewrite the files and reload.
    kit_a = store.issue("kit-a")
    write_files(store, tmp_path, ingest_password)
    broker.reload()
    settings = {
        "mqtt_host": broker.host,
        "mqtt_port": str(broker.port),
        "mqtt_username": "ingest",
        "mqtt_password": ingest_password,
        "mqtt_client_id": unique("ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.05",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        assert publish_as(broker, "kit-a", kit_a.mqtt_password, f"{ROOT}/kit-a/up", b'{"readings": {"co2": 600}}') == 0
        refused = publish_as(broker, "kit-a", kit_a.mqtt_password, f"{ROOT}/kit-b/up", b'{"readings": {"co2": 999}}')
        assert refused == 135, "the broker must refuse a device writing on another device's topic"
        assert connect_code(broker, None, None) == 135, "anonymous clients are refused"
        assert connect_code(broker, "kit-a", "wrong") in (134, 135), "a wrong password is refused"
        claim = b'{"device": "kit-b", "readings": {"co2": 700}}'
        assert publish_as(broker, "kit-a", kit_a.mqtt_password, f"{ROOT}/kit-a/up", claim) == 0
        wait_until(lambda: "code=device_mismatch" in ingest.log(), 20, "the impersonation to be rejected")
        wait_until(lambda: influxdb.count(influx_db) >= 1, 20, "kit-a's reading")
        time.sleep(0.5)
    finally:
        ingest.terminate()
    assert [(p["device"], p["value"]) for p in influxdb.points(influx_db, "co2")] == [("kit-a", 600.0)]
    listed = subprocess.run(
        [sys.executable, "-m", "suitcase", "rejects", "list", "--data-dir", str(tmp_path / "ingest-data")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "device_mismatch" in listed


def test_the_simulator_account_publishes_uplinks_of_any_device_and_nothing_else(
    tmp_path: Path, secured: tuple[Mosquitto, CredentialStore, str]
) -> None:
    broker, store, ingest_password = secured
    password = secrets.token_urlsafe(16)
    write_files(store, tmp_path, ingest_password, {"sim": ServicePublisher(password, simulator_topics(ROOT))})
    broker.reload()
    assert publish_as(broker, "sim", password, f"{ROOT}/kit-a/up", b"{}") in ACCEPTED
    assert publish_as(broker, "sim", password, f"{ROOT}/kit-b/temperature", b"1") in ACCEPTED
    assert publish_as(broker, "sim", password, "application/demo/device/70b3d57ed0000001/event/up", b"{}") in ACCEPTED
    assert publish_as(broker, "sim", password, "v3/demo@ttn/devices/eui-1/up", b"{}") in ACCEPTED
    assert publish_as(broker, "sim", password, "application/demo/device/x/command/down", b"{}") == 135
    with pytest.raises(ValueError, match="'kit-a' cannot also be a device id"):
        write_files(store, tmp_path, ingest_password, {"kit-a": ServicePublisher(password, simulator_topics(ROOT))})


def test_rotation_and_sighup_switch_passwords_without_a_restart(
    tmp_path: Path, secured: tuple[Mosquitto, CredentialStore, str]
) -> None:
    broker, store, ingest_password = secured
    old = store.issue("kit-a")
    write_files(store, tmp_path, ingest_password)
    broker.reload()
    assert connect_code(broker, "kit-a", old.mqtt_password) == 0
    pid = broker.pid
    new = store.issue("kit-a")
    write_files(store, tmp_path, ingest_password)
    broker.reload()
    assert broker.pid == pid, "no broker restart"
    assert connect_code(broker, "kit-a", old.mqtt_password) in (134, 135)
    assert connect_code(broker, "kit-a", new.mqtt_password) == 0
