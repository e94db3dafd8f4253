"""Per-device security on a real Mosquitto configured from the generated password and ACL files (#5)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from iot_suitcase.devices.credentials import BrokerFiles, CredentialStore
from iot_suitcase.devices.credentials.issuing import simulator_topics
from iot_suitcase.devices.credentials.store import ServicePublisher
from iot_suitcase.servers import InfluxDB, Mosquitto
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


INGEST = "suitcase-ingest"


def write_files(
    store: CredentialStore, directory: Path, ingest_password: str, publishers: dict[str, ServicePublisher] | None = None
) -> BrokerFiles:
    """The broker's password and ACL files in ``directory`` (where the ``secured`` broker reads them)."""
    texts = store.broker_files(
        topic_root=ROOT, ingest_user=INGEST, ingest_password=ingest_password, publishers=publishers
    )
    files = BrokerFiles(
        directory / "passwd", directory / "acl", directory / "passwd-service", directory / "acl-service"
    )
    for path, text in zip(
        (files.password, files.acl, files.service_password, files.service_acl),
        (texts.password, texts.acl, texts.service_password, texts.service_acl),
        strict=True,
    ):
        Path(path).write_text(text)
    return files


@pytest.fixture
def secured(tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]) -> tuple[Mosquitto, CredentialStore, str]:
    store = CredentialStore(tmp_path / "credentials.yaml")
    store.issue("kit-a")
    store.issue("kit-b")
    ingest_password = secrets.token_urlsafe(16)
    broker = mosquitto_factory(files=write_files(store, tmp_path, ingest_password))
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
        "mqtt_service_port": str(broker.ingest_port),
        "mqtt_username": INGEST,
        "mqtt_password": ingest_password,
        "mqtt_client_id": unique("suitcase-ingest-"),
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
        [sys.executable, "-m", "iot_suitcase", "rejects", "list", "--data-dir", str(tmp_path / "ingest-data")],
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
    sim = "suitcase-simulator"
    write_files(store, tmp_path, ingest_password, {sim: ServicePublisher(password, simulator_topics(ROOT))})
    broker.reload()
    assert publish_as(broker, sim, password, f"{ROOT}/kit-a/up", b"{}") in ACCEPTED
    assert publish_as(broker, sim, password, f"{ROOT}/kit-b/temperature", b"1") in ACCEPTED
    assert publish_as(broker, sim, password, "application/demo/device/70b3d57ed0000001/event/up", b"{}") in ACCEPTED
    assert publish_as(broker, sim, password, "v3/demo@ttn/devices/eui-1/up", b"{}") in ACCEPTED
    assert publish_as(broker, sim, password, "application/demo/device/x/command/down", b"{}") == 135
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


# --- #13 point 1: no account can use another account's client id ---------------------------------------------


def suitcase_cli(cwd: Path, *args: str) -> str:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SUITCASE_")}
    result = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@dataclass
class Installation:
    """What `suitcase init`, `devices add` and `devices credentials` wrote, and a broker started on those files."""

    root: Path
    broker: Mosquitto
    env: dict[str, str]
    passwords: dict[str, str]

    def ingest(self, log: Path, **extra: str) -> IngestProcess:
        return IngestProcess(
            log,
            {
                "mqtt_host": self.broker.host,
                "mqtt_port": str(self.broker.port),
                "mqtt_service_port": str(self.broker.ingest_port),
                "mqtt_username": self.env["SUITCASE_MQTT_USERNAME"],
                "mqtt_password": self.env["SUITCASE_MQTT_PASSWORD"],
                "topic_root": ROOT,
                **extra,
            },
        )


@pytest.fixture
def installation(tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto]) -> Installation:
    root = tmp_path / "kit"
    root.mkdir()
    suitcase_cli(root, "init")
    passwords = {}
    for device in ("kit-a", "kit-b"):
        suitcase_cli(root, "devices", "add", device, "--model", "native", "--site", "office")
        passwords[device] = json.loads(suitcase_cli(root, "devices", "credentials", device, "--json"))["mqtt_password"]
    written = root / "var" / "mosquitto"
    files = BrokerFiles(written / "passwd", written / "acl", written / "passwd-service", written / "acl-service")
    env = dict(line.split("=", 1) for line in (root / ".env").read_text().splitlines() if "=" in line)
    return Installation(root, mosquitto_factory(files=files), env, passwords)


def connect_code_as(port: int, user: str, password: str, client_id: str) -> int:
    """CONNACK reason code of a clean-start connection with the given client id (0 = accepted)."""
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    codes: list[int] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: codes.append(reason.value)
    client.username_pw_set(user, password)
    client.connect("127.0.0.1", port, clean_start=True)
    client.loop_start()
    try:
        wait_until(lambda: bool(codes), 10, "a CONNACK")
        time.sleep(0.3)  # stay connected a moment: a takeover would have kicked the session's owner by now
    finally:
        client.disconnect()
        client.loop_stop()
    return codes[0]


def test_no_device_account_can_take_over_the_ingest_session(
    tmp_path: Path, installation: Installation, influxdb: InfluxDB, influx_db: str
) -> None:
    broker = installation.broker
    ingest = installation.ingest(tmp_path / "ingest.log", influx_url=influxdb.url, influx_database=influx_db)
    ingest.start()
    ingest.terminate()  # the session (and its subscription) stays with the broker
    kit_a, kit_b = installation.passwords["kit-a"], installation.passwords["kit-b"]
    for value in range(50):
        payload = json.dumps({"readings": {"co2": 400 + value}}).encode()
        assert publish_as(broker, "kit-a", kit_a, f"{ROOT}/kit-a/up", payload) in ACCEPTED
    # kit-b tries the ingest service's client id with a clean start, on both listeners
    assert connect_code_as(broker.port, "kit-b", kit_b, "suitcase-ingest") == 0, "accepted, as kit-b's own session"
    assert connect_code_as(broker.ingest_port, "kit-b", kit_b, "suitcase-ingest") in (134, 135)
    started = len(ingest.log())
    ingest.start()
    try:
        wait_until(lambda: influxdb.count(influx_db, "co2") >= 50, 30, "the 50 messages queued for the ingest session")
        connect_code_as(broker.port, "kit-b", kit_b, "suitcase-ingest")  # and while it runs
        time.sleep(1)
        running = ingest.log()[started:]
    finally:
        ingest.terminate()
    assert influxdb.count(influx_db, "co2") == 50
    assert "lost the broker connection" not in running, "nobody kicked the running service off its session"


def test_no_device_account_can_take_over_a_shared_worker_session(
    tmp_path: Path, installation: Installation, influxdb: InfluxDB, influx_db: str
) -> None:
    broker = installation.broker
    workers = []
    for number in (1, 2):
        (tmp_path / f"w{number}").mkdir()
        worker = installation.ingest(
            tmp_path / f"w{number}" / "ingest.log",
            mqtt_client_id=f"suitcase-ingest-{number}",
            mqtt_share_group="workers",
            influx_url=influxdb.url,
            influx_database=influx_db,
        )
        workers.append(worker.start())
    kit_a, kit_b = installation.passwords["kit-a"], installation.passwords["kit-b"]
    try:
        for client_id in ("suitcase-ingest-1", "suitcase-ingest-2"):
            assert connect_code_as(broker.port, "kit-b", kit_b, client_id) == 0
            assert connect_code_as(broker.ingest_port, "kit-b", kit_b, client_id) in (134, 135)
        for value in range(20):
            payload = json.dumps({"readings": {"co2": 400 + value}}).encode()
            assert publish_as(broker, "kit-a", kit_a, f"{ROOT}/kit-a/up", payload) in ACCEPTED
        wait_until(lambda: influxdb.count(influx_db, "co2") >= 20, 30, "20 messages through the shared workers")
        logs = [worker.log() for worker in workers]
    finally:
        for worker in workers:
            worker.terminate()
    assert influxdb.count(influx_db, "co2") == 20
    for log in logs:
        assert "lost the broker connection" not in log


def test_every_topic_a_device_may_publish_reaches_the_service_or_becomes_a_reject(
    tmp_path: Path, installation: Installation, influxdb: InfluxDB, influx_db: str
) -> None:
    """#13 point 7: what the ACL lets a device publish and no format reads is an unknown_topic reject."""
    broker = installation.broker
    ingest = installation.ingest(tmp_path / "ingest.log", influx_url=influxdb.url, influx_database=influx_db)
    ingest.start()
    kit_a = installation.passwords["kit-a"]
    wrong = [f"{ROOT}/kit-a/nope", f"{ROOT}/kit-a/up/extra", f"{ROOT}/kit-a/temperature/degC/x"]
    try:
        for topic in wrong:
            assert publish_as(broker, "kit-a", kit_a, topic, b'{"readings": {"co2": 500}}') in ACCEPTED
        assert publish_as(broker, "kit-a", kit_a, f"{ROOT}/kit-a/up", b'{"readings": {"co2": 501}}') in ACCEPTED
        wait_until(lambda: ingest.log().count("code=unknown_topic") >= len(wrong), 20, "a reject per wrong topic")
        wait_until(lambda: influxdb.count(influx_db, "co2") >= 1, 20, "the right topic's reading")
    finally:
        ingest.terminate()
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
    assert sorted(r["topic"] for r in rejects) == sorted(wrong)
    assert all(r["reason"] == "unknown_topic" and r["topic"] in r["detail"] for r in rejects)
    assert all(r["device"] == "kit-a" for r in rejects), "the topic says whose it is"
    assert influxdb.count(influx_db, "co2") == 1
