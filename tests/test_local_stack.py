"""`suitcase up`, the main job of `scripts/up`: starts what is missing, ingests, and Ctrl-C stops it all."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from suitcase.stack import InfluxDB, Mosquitto, free_port, port_is_listening
from tests.helpers import publish_all, wait_until


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
            "suitcase",
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
                "suitcase",
                "up",
                "--var-dir",
                str(tmp_path / "var"),
                "--mqtt-port",
                str(mqtt_port),
                "--influx-url",
                influx_url,
                "--batch-interval-s",
                "0.1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "connected to broker" in log_path.read_text(), 60, "the local stack to come up")
        banner = log_path.read_text()
        assert f"mqtt://127.0.0.1:{mqtt_port} (started" in banner
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


def test_up_uses_services_that_already_run(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB) -> None:
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "suitcase",
                "up",
                "--var-dir",
                str(tmp_path / "var"),
                "--mqtt-port",
                str(mosquitto.port),
                "--influx-url",
                influxdb.url,
                "--mqtt-client-id",
                "up-reuse-test",
                "--influx-database",
                "up_reuse",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "connected to broker" in log_path.read_text(), 60, "the local stack to come up")
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=20)
    assert code == 0
    banner = log_path.read_text()
    assert "(already running, used as is)" in banner
    assert not (tmp_path / "var" / "mosquitto").exists()
    assert mosquitto.running, "services the stack did not start are left alone"
    assert influxdb.running
    assert "up_reuse" in influxdb.databases()
