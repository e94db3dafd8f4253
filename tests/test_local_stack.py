"""`scripts/up` and `suitcase up`, the main job: starts what is missing, ingests, runs a demo fleet, writes
Grafana's provisioning tree, prints the URLs, and Ctrl-C stops it all."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from iot_suitcase.servers import InfluxDB, Mosquitto, free_port, port_is_listening
from tests.console import Console
from tests.fleet import expected, fleet, observed
from tests.helpers import publish_all, wait_until

REPO = Path(__file__).parent.parent
UP = ("connected to broker", "Ctrl-C stops everything.")  # subscribed, and the banner printed


def influx_query(url: str, db: str, query: str) -> list[list[object]]:
    params = urllib.parse.urlencode({"db": db, "q": query})
    with urllib.request.urlopen(f"{url}/query?{params}", timeout=5) as response:
        result = json.load(response)["results"][0]
    series = result.get("series", [])
    return series[0]["values"] if series else []


def test_up_starts_broker_and_database_ingests_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    registry = tmp_path / "var" / "registry.yaml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "iot_suitcase",
            "devices",
            "add",
            "demo-1",
            "--model",
            "native",
            "--site",
            "test",
            "--registry",
            str(registry),
        ],
        check=True,
        capture_output=True,
    )
    mqtt_port, influx_port = free_port(), free_port()
    influx_url = f"http://127.0.0.1:{influx_port}"
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "iot_suitcase",
                "up",
                "--var-dir",
                str(tmp_path / "var"),
                "--mqtt-port",
                str(mqtt_port),
                "--influx-url",
                influx_url,
                "--batch-interval-s",
                "0.1",
                "--http-port",
                "0",
                "--no-demo",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: all(s in log_path.read_text() for s in UP), 60, "the local stack to come up")
        banner = log_path.read_text()
        assert f"mqtt://127.0.0.1:{mqtt_port} for devices" in banner
        assert f"{influx_url} (started" in banner
        assert "mosquitto_pub" in banner
        publish_all("127.0.0.1", mqtt_port, [("suitcase/demo-1/up", b'{"readings": {"temperature": 21.5}}')])
        wait_until(lambda: bool(influx_query(influx_url, "suitcase", "SELECT * FROM temperature")), 30, "the reading")
        assert influx_query(influx_url, "suitcase", "SELECT device, value FROM temperature")[0][1:] == ["demo-1", 21.5]
        assert (tmp_path / "var" / "mosquitto" / "mosquitto.conf").exists()
        assert (tmp_path / "var" / "influxdb" / "influxdb.conf").exists()
        assert (tmp_path / "var" / "ingest" / "wal").is_dir(), "the ingest service keeps its log under --var-dir"
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=20)
    assert code == 0, log_path.read_text()
    assert not port_is_listening("127.0.0.1", mqtt_port), "Mosquitto must stop with the stack"
    assert not port_is_listening("127.0.0.1", influx_port), "InfluxDB must stop with the stack"


def up_command(tmp_path: Path, mqtt_port: int, influx_url: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "iot_suitcase",
        "up",
        "--var-dir",
        str(tmp_path / "var"),
        "--mqtt-port",
        str(mqtt_port),
        "--influx-url",
        influx_url,
        "--http-port",
        "0",
        "--no-demo",
        *extra,
    ]


def test_up_refuses_a_broker_it_did_not_configure(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> None:
    """#13 point 8: a broker the stack did not configure may drop queued messages; it is not used."""
    result = subprocess.run(
        up_command(tmp_path, mosquitto.port, influxdb.url), capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert f"port {mosquitto.port} is taken by pid {mosquitto.pid}" in result.stderr, result.stderr
    assert f"--mqtt-port {mosquitto.port + 1}" in result.stderr, "it says how to fix it"
    assert "systemctl disable --now mosquitto" in result.stderr
    assert mosquitto.running, "the other broker is left alone"


def test_up_uses_an_influxdb_that_already_runs(tmp_path: Path, influxdb: InfluxDB) -> None:
    log_path = tmp_path / "up.log"
    command = up_command(tmp_path, free_port(), influxdb.url, "--influx-database", "up_reuse")
    with log_path.open("wb") as log:
        up = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: all(s in log_path.read_text() for s in UP), 60, "the local stack to come up")
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=20)
    assert code == 0
    assert f"{influxdb.url} (already running, used as is)" in log_path.read_text()
    assert influxdb.running
    assert "up_reuse" in influxdb.databases()


def test_the_stacks_broker_keeps_every_queued_message_while_ingest_cannot_take_them(
    tmp_path: Path, influxdb: InfluxDB, influx_db: str
) -> None:
    """#13 point 8's reproduction: 1,500 QoS 1 messages queued for the ingest session all arrive."""
    mqtt_port = free_port()
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            up_command(
                tmp_path,
                mqtt_port,
                influxdb.url,
                "--influx-database",
                influx_db,
                "--unknown-devices",
                "accept",
                "--mqtt-keepalive-s",
                "5",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    messages = fleet("suitcase", devices=5, per_device=300)
    want = expected(messages)
    try:
        wait_until(lambda: all(s in log_path.read_text() for s in UP), 60, "the local stack to come up")
        # the ingest service stops answering; its broker keeps running, drops the connection after 1.5
        # keepalives and queues for the session: Mosquitto's default max_queued_messages 1000 would drop 500
        up.send_signal(signal.SIGSTOP)
        broker_log = tmp_path / "var" / "mosquitto" / "mosquitto.log"
        wait_until(lambda: "exceeded timeout" in broker_log.read_text(), 30, "the broker to drop the stopped client")
        publish_all("127.0.0.1", mqtt_port, [(m.topic, m.payload) for m in messages])
        up.send_signal(signal.SIGCONT)
        wait_until(lambda: influxdb.count(influx_db) >= sum(want.values()), 60, "1,500 messages")
        time.sleep(0.5)
    finally:
        up.send_signal(signal.SIGCONT)
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=20)
    assert code == 0
    assert observed(influxdb, influx_db, want) == want


def test_scripts_up_shows_the_demo_fleet_in_influxdb_and_on_the_status_page_within_30_s(tmp_path: Path) -> None:
    mqtt_port, influx_port, http_port = free_port(), free_port(), free_port()
    influx_url, status_url = f"http://127.0.0.1:{influx_port}", f"http://127.0.0.1:{http_port}"
    var = tmp_path / "var"
    log_path = tmp_path / "up.log"
    command = [str(REPO / "scripts" / "up"), "--var-dir", str(var), "--mqtt-port", str(mqtt_port)]
    command += ["--influx-url", influx_url, "--http-port", str(http_port), "--demo-interval", "5"]
    started = time.monotonic()
    with log_path.open("wb") as log:
        up = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:

        def demo_in_influxdb() -> bool:
            query = "SELECT last(value) FROM temperature WHERE device =~ /^demo-/ GROUP BY device"
            return port_is_listening("127.0.0.1", influx_port) and bool(influx_query(influx_url, "suitcase", query))

        def admin() -> Console:
            """The first admin, with the password the banner showed once (as a newcomer logs in)."""
            found = re.search(r"log in as 'admin' with the password (\S+) ", log_path.read_text())
            assert found, "the banner shows the console's first password"
            staff = Console(status_url, "admin", found.group(1))
            assert staff.login().status == 303
            return staff

        def demo_on_status_page() -> bool:
            if not port_is_listening("127.0.0.1", http_port):
                return False
            devices = json.loads(admin().get("/api/devices").body)["devices"]
            return any(d["id"].startswith("demo-") and d["latest"] for d in devices)

        wait_until(demo_in_influxdb, 30 - (time.monotonic() - started), "demo readings in InfluxDB")
        wait_until(demo_on_status_page, 30 - (time.monotonic() - started), "demo devices on the status page")
        elapsed = time.monotonic() - started
        staff = admin()
        page = staff.get("/").text
        shown = next(d for d in json.loads(staff.get("/api/devices").body)["devices"] if d["latest"])
        assert shown["id"] in page, "the HTML page shows the device the API lists"
        assert shown["site"] in page
        banner = log_path.read_text()
        for url in (f"{status_url}/", f"{status_url}/metrics", f"mqtt://127.0.0.1:{mqtt_port}", influx_url):
            assert url in banner, f"the banner names {url}"
        assert "demo fleet    12 devices" in banner
        tree = var / "grafana"
        assert {p.name for p in tree.iterdir()} >= {"datasources", "dashboards", "alerting"}
        assert influx_url in "".join(f.read_text() for f in (tree / "datasources").glob("*.yaml"))
        assert "demo-" in (var / "registry.yaml").read_text(), "the demo fleet is registered, not rejected"
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=30)
    assert code == 0, log_path.read_text()
    print(f"demo readings visible in InfluxDB and on the status page {elapsed:.1f} s after scripts/up started")
    assert not port_is_listening("127.0.0.1", mqtt_port), "Mosquitto must stop with the stack"
    assert not port_is_listening("127.0.0.1", influx_port), "InfluxDB must stop with the stack"
    assert not port_is_listening("127.0.0.1", http_port), "the ingest service must stop with the stack"
    summary = (var / "demo" / "simulator.log").read_text()
    assert "interrupted" in summary, "the demo fleet was stopped with the stack (its summary says so)"
