"""Every failure visible in one place (#15 point 7), on a real Mosquitto secured as `suitcase init` makes it: a
wrong password, a publication the ACL denies and a wrong topic each show in the console within 5 s."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from iot_suitcase.devices.credentials import BrokerFiles
from iot_suitcase.servers import InfluxDB, Mosquitto
from iot_suitcase.stack.local import BrokerLogRotation
from tests.console import Console, console
from tests.helpers import IngestProcess, unique, wait_until


@dataclass
class Secured:
    broker: Mosquitto
    ingest: IngestProcess
    password: str  # kit-1's
    staff: Console


def suitcase(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", *args], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture
def secured(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB, influx_db: str
) -> Iterator[Secured]:
    suitcase(tmp_path, "init")
    for device in ("kit-1", "kit-2"):
        suitcase(tmp_path, "devices", "add", device, "--model", "native", "--site", "office")
    password = json.loads(suitcase(tmp_path, "devices", "credentials", "kit-1", "--json"))["mqtt_password"]
    var = tmp_path / "var"
    files = BrokerFiles(
        var / "mosquitto" / "passwd",
        var / "mosquitto" / "acl",
        var / "mosquitto" / "passwd-service",
        var / "mosquitto" / "acl-service",
    )
    broker = mosquitto_factory(files=files, extra_config="log_type debug")  # as the local stack runs its own
    env = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if "=" in line)
    settings = {
        "mqtt_host": broker.host,
        "mqtt_port": str(broker.ingest_port),
        "mqtt_username": env["SUITCASE_MQTT_USERNAME"],
        "mqtt_password": env["SUITCASE_MQTT_PASSWORD"],
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "registry_file": str(var / "registry.yaml"),
        "credentials_file": str(var / "credentials.yaml"),
        "unknown_devices": "reject",
        "broker_log_file": str(broker.log_path),
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    staff = console(ingest.http_url, tmp_path / "accounts.sqlite3")
    yield Secured(broker, ingest, password, staff)
    ingest.terminate()


def publish(broker: Mosquitto, user: str, password: str, topic: str) -> int:
    command = ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", "1", "-V", "mqttv5"]
    command += ["-u", user, "-P", password, "-i", user, "-t", topic, "-m", '{"readings": {"temperature": 20}}']
    return subprocess.run(command, capture_output=True, timeout=20, check=False).returncode


def section(page: str, anchor: str) -> str:
    return page.split(f'id="{anchor}"', 1)[1].split("<h2", 1)[0]


def test_a_wrong_password_a_denied_topic_and_a_wrong_topic_show_within_5_s(secured: Secured) -> None:
    broker, staff = secured.broker, secured.staff
    assert publish(broker, "kit-1", "not-its-password", "suitcase/kit-1/up") != 0
    wait_until(lambda: "login refused" in section(staff.get("/").text, "broker-refused"), 5, "the refused login")
    refused = section(staff.get("/").text, "broker-refused")
    assert "127.0.0.1" in refused, "where it came from"
    assert "wrong password or unknown user" in refused

    publish(broker, "kit-1", secured.password, "suitcase/kit-2/up")  # another device's topic: denied
    wait_until(lambda: "publication denied" in staff.get("/").text, 5, "the denied publication")
    denied = section(staff.get("/").text, "broker-refused")
    assert "suitcase/kit-2/up" in denied
    assert "kit-1 may publish only under its own topics" in denied
    assert "suitcase/kit-2/up" in staff.get("/devices/kit-1").text, "and on the device's own page"

    publish(broker, "kit-1", secured.password, "suitcase/kit-1/upp")  # its own namespace, a topic nobody reads
    wait_until(lambda: "suitcase/kit-1/upp" in section(staff.get("/").text, "rejects"), 5, "the wrong topic")
    api = json.loads(staff.get("/api/refused").body)
    assert api["broker"]["counts"] == {"not_authorised": 1, "acl_denied": 1}
    metrics = staff.get("/metrics").text
    assert 'suitcase_broker_refused_total{kind="not_authorised"} 1.0' in metrics, "for an alert on guessing"
    assert 'suitcase_broker_refused_total{kind="acl_denied"} 1.0' in metrics


def test_the_local_stacks_broker_log_is_rotated_and_reopened(mosquitto_factory: Callable[..., Mosquitto]) -> None:
    broker = mosquitto_factory(extra_config="log_type debug")
    rotation = BrokerLogRotation(broker, max_bytes=1)
    assert rotation.rotate_if_big()
    wait_until(broker.log_path.exists, 5, "the broker to open a new log on SIGHUP")
    assert broker.log_path.with_name("mosquitto.log.1").exists()
    assert not BrokerLogRotation(broker, max_bytes=1 << 30).rotate_if_big(), "a small log stays"
