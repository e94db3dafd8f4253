"""A network server's broker account (#15 point 8): `suitcase integrations add chirpstack|tts NAME` makes an
account whose uplinks are stored, and that can publish nothing else and log in nowhere else."""

from __future__ import annotations

import html
import json
import re
import secrets
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from iot_suitcase.devices.credentials import BrokerFiles
from iot_suitcase.ingest.console.accounts import Role
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.console import console, form_csrf
from tests.helpers import IngestProcess, unique, wait_until

FORMATS = Path(__file__).resolve().parent.parent / "devices" / "formats"
# The same Elsys ERS CO2 uplink as each network server publishes it: the vector, and the topic it comes on.
UPLINKS = {
    "chirpstack": ("chirpstack/testdata/thingsboard-elsys-ers-co2.json", None),
    "tts": ("tts/testdata/thingsboard-elsys-ers-co2-tti.json", "tts/city/up"),
}


def suitcase(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", *args], cwd=root, capture_output=True, text=True, check=True
    )
    return done.stdout


def mosquitto_pub(port: int, user: str, password: str, topic: str, payload: bytes) -> int:
    account = ["-u", user, "-P", password, "-i", user]
    command = ["mosquitto_pub", "-p", str(port), "-q", "1", "-V", "mqttv5", *account, "-t", topic, "-s"]
    return subprocess.run(command, input=payload, capture_output=True, timeout=20, check=False).returncode


@pytest.mark.parametrize("kind", sorted(UPLINKS))
def test_a_network_server_account_publishes_its_uplinks_and_nothing_else(
    kind: str, tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB, influx_db: str
) -> None:
    suitcase(tmp_path, "init")
    suitcase(tmp_path, "devices", "add", "kit-1", "--model", "native", "--site", "office")
    suitcase(
        tmp_path,
        "devices",
        "add",
        "eui-1000000000000001",
        "--model",
        "elsys/ers-co2",
        "--site",
        "office",
        "--dev-eui",
        "1000000000000001",
    )
    printed = suitcase(tmp_path, "integrations", "add", kind, "city", "--broker-host", "mqtt.example.org")
    if kind == "chirpstack":
        password = re.search(r'password = "([^"]+)"', printed).group(1)  # type: ignore[union-attr]
        assert 'username = "suitcase-ns-city"' in printed
        assert 'server = "tcp://mqtt.example.org:1883/"' in printed
    else:
        password = re.search(r"Password: +(\S+)", printed).group(1)  # type: ignore[union-attr]
        assert re.search(r"Username: +suitcase-ns-city\n", printed)
        assert re.search(r"Server URL: +mqtt://mqtt.example.org:1883\n", printed)
        assert re.search(r"Base topic: +tts/city\n", printed)
        assert re.search(r"Uplink message: +enabled, sub-topic up\n", printed)
    assert "suitcase-ns-city" in suitcase(tmp_path, "integrations", "list")
    assert password not in (tmp_path / "var" / "credentials.yaml").read_text(), "only its hash is kept"

    var = tmp_path / "var" / "mosquitto"
    files = BrokerFiles(var / "passwd", var / "acl", var / "passwd-service", var / "acl-service")
    broker = mosquitto_factory(files=files, extra_config="log_type debug")
    env = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if "=" in line)
    ingest = IngestProcess(
        tmp_path / "ingest.log",
        {
            "mqtt_port": str(broker.ingest_port),
            "mqtt_username": env["SUITCASE_MQTT_USERNAME"],
            "mqtt_password": env["SUITCASE_MQTT_PASSWORD"],
            "mqtt_client_id": unique("suitcase-ingest-"),
            "influx_url": influxdb.url,
            "influx_database": influx_db,
            "registry_file": str(tmp_path / "var" / "registry.yaml"),
            "unknown_devices": "reject",
        },
    ).start()
    try:
        vector, topic = UPLINKS[kind]
        uplink = (FORMATS / vector).read_bytes()
        expected = json.loads((FORMATS / vector).with_name("expected.json").read_text())
        topic = topic or expected[Path(vector).name]["topic"]
        assert mosquitto_pub(broker.port, "suitcase-ns-city", password, topic, uplink) == 0
        wait_until(lambda: bool(influxdb.points(influx_db, "co2")), 20, f"the {kind} uplink's readings")
        [co2] = influxdb.points(influx_db, "co2")
        assert (co2["device"], co2["value"]) == ("eui-1000000000000001", 776.0)

        elsewhere = ["suitcase/kit-1/up"] + (["tts/another/up"] if kind == "tts" else [])
        for where in elsewhere:
            mosquitto_pub(broker.port, "suitcase-ns-city", password, where, uplink)
            denial = rf"Denied PUBLISH from suitcase-ns-city \(d0, q1, r0, m\d+, '{re.escape(where)}'"
            wait_until(partial(denied, broker, denial), 10, f"the denial on {where}")
        service = mosquitto_pub(broker.ingest_port, "suitcase-ns-city", password, topic, b"{}")
        assert service != 0, "the network server cannot log in on the ingest service's listener"
    finally:
        ingest.terminate()
    assert [p["value"] for p in influxdb.points(influx_db, "co2")] == [776.0], "kit-1's topic stayed closed to it"

    assert "removed" in suitcase(tmp_path, "integrations", "remove", "city")
    assert "suitcase-ns-city" not in (var / "passwd").read_text()


def denied(broker: Mosquitto, pattern: str) -> bool:
    return re.search(pattern, broker.log_path.read_text()) is not None


def test_an_operator_gives_a_network_server_an_account_in_the_console(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    var = tmp_path / "var"
    ingest = IngestProcess(
        tmp_path / "ingest.log",
        {
            "mqtt_port": str(mosquitto.port),
            "mqtt_client_id": unique("suitcase-ingest-"),
            "mqtt_password": secrets.token_urlsafe(16),  # the test broker takes any
            "influx_url": influxdb.url,
            "influx_database": influx_db,
            "credentials_file": str(var / "credentials.yaml"),
            "mosquitto_password_file": str(var / "mosquitto" / "passwd"),
            "mosquitto_acl_file": str(var / "mosquitto" / "acl"),
            "mosquitto_service_password_file": str(var / "mosquitto" / "passwd-service"),
            "mosquitto_service_acl_file": str(var / "mosquitto" / "acl-service"),
            "mosquitto_pid_file": str(var / "mosquitto" / "none.pid"),
        },
    ).start()
    try:
        viewer = console(ingest.http_url, tmp_path / "accounts.sqlite3")
        assert viewer.get("/integrations").status == 403
        operator = console(ingest.http_url, tmp_path / "accounts.sqlite3", Role.OPERATOR)
        page = operator.get("/integrations")
        made = operator.post("/integrations", {"kind": "chirpstack", "name": "city", "csrf": form_csrf(page.text)})
        assert made.status == 200
        settings = html.unescape(made.text.split('id="network-server-settings">', 1)[1].split("</pre>", 1)[0])
        assert 'username = "suitcase-ns-city"' in settings
        password = re.search(r'password = "([^"]+)"', settings).group(1)  # type: ignore[union-attr]
        assert password not in operator.get("/integrations").text, "shown once"
        assert "suitcase-ns-city:" in (var / "mosquitto" / "passwd").read_text()
        bad = operator.post("/integrations", {"kind": "chirpstack", "name": "Bad Name", "csrf": operator.csrf()})
        assert bad.status == 400
        tts = operator.post("/integrations", {"kind": "tts", "name": "things", "csrf": operator.csrf()})
        assert "The Things Stack's console: your application > Integrations > Pub/Subs" in html.unescape(tts.text)
        settings = html.unescape(tts.text.split('id="network-server-settings">', 1)[1].split("</pre>", 1)[0])
        assert re.search(r"Base topic: +tts/things\n", settings)
        acl = (var / "mosquitto" / "acl").read_text()
        assert "user suitcase-ns-things\ntopic write tts/things/up\n" in acl
    finally:
        ingest.terminate()
