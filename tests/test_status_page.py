"""The status page in a real headless Chromium, /metrics through prometheus-client's parser, health checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, publish_all, unique, wait_until

OUTPUT = Path(__file__).parent.parent / "test-output"
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> str:
    assert CHROMIUM, "Debian's chromium is installed by scripts/setup --test"
    profile = tmp_path / "chromium-profile"
    result = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return result.stdout


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def running(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str) -> Iterator[IngestProcess]:
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "kit-7", "model": "native", "site": "dokk1", "interval_s": 600}))
        registry.add(make_spec({"id": "kit-8", "model": "native", "site": "dokk1", "interval_s": 600}))
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": "suitcase",
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.05",
        "registry_file": str(tmp_path / "registry.yaml"),
        "unknown_devices": "reject",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    yield ingest
    ingest.terminate()


def test_status_page_shows_a_fresh_reading_and_a_reject_in_chromium(
    tmp_path: Path, mosquitto: Mosquitto, running: IngestProcess, influxdb: InfluxDB, influx_db: str
) -> None:
    publish_all(
        mosquitto.host,
        mosquitto.port,
        [
            ("suitcase/kit-7/up", b'{"readings": {"co2": 734, "battery": 81}}'),
            ("suitcase/kit-8/up", b'{"readings": {"humidity": 140}}'),
            ("suitcase/stranger-1/up", b'{"readings": {"co2": 500}}'),
        ],
    )
    wait_until(lambda: influxdb.count(influx_db) >= 2, 20, "kit-7's readings")
    dom = chromium(tmp_path, "--dump-dom", f"{running.http_url}/")
    assert 'id="device-kit-7"' in dom
    row = dom.split('id="device-kit-7"', 1)[1].split("</tr>", 1)[0]
    assert "Carbon dioxide concentration</span> 734 ppm" in row, "the device that just published shows its latest value"
    assert ">ok<" in row
    assert "81 %" in row, "and its battery, at the catalog's decimals"
    assert "out_of_range" in dom, "the rejected message shows with its reason"
    kit8 = dom.split('id="device-kit-8"', 1)[1].split("</tr>", 1)[0]
    assert "rejected: out_of_range" in kit8, "a device whose data does not arrive says why in its own row"
    assert "humidity: 140 % is outside the plausible range" in dom
    assert "stranger-1" in dom.split("Unknown devices knocking", 1)[1], "a stranger knocking is listed"
    OUTPUT.mkdir(exist_ok=True)
    screenshot = OUTPUT / "status-page.png"
    chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1280,900", f"{running.http_url}/")
    assert screenshot.stat().st_size > 10_000


def test_metrics_parse_and_count_what_was_sent(mosquitto: Mosquitto, running: IngestProcess) -> None:
    messages = [("suitcase/kit-7/up", b'{"readings": {"co2": %d}}' % (400 + n)) for n in range(30)]
    messages += [("suitcase/kit-7/up", b"not json")] * 4 + [("suitcase/kit-9/up", b'{"readings": {"co2": 1}}')] * 2
    publish_all(mosquitto.host, mosquitto.port, messages)

    def families() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        text = get(f"{running.http_url}/metrics")[1].decode()
        return {
            family.name: {
                tuple(sorted(s.labels.items())): s.value
                for s in family.samples
                if s.name.endswith("_total") or family.type != "counter"
            }
            for family in text_string_to_metric_families(text)
        }

    wait_until(lambda: families()["suitcase_readings_stored"].get((), 0) >= 30, 20, "30 stored readings in /metrics")
    metrics = families()
    assert metrics["suitcase_messages_received"][()] == 36
    assert metrics["suitcase_messages_acked"][()] == 36
    assert metrics["suitcase_readings_stored"][()] == 30
    assert metrics["suitcase_messages_rejected"][(("reason", "malformed_json"),)] == 4
    assert metrics["suitcase_messages_rejected"][(("reason", "unknown_device"),)] == 2
    assert metrics["suitcase_mqtt_connected"][()] == 1
    assert metrics["suitcase_influx_ok"][()] == 1


def test_health_and_api(running: IngestProcess, mosquitto: Mosquitto) -> None:
    assert get(f"{running.http_url}/healthz")[0] == 200
    status, body = get(f"{running.http_url}/readyz")
    assert (status, json.loads(body)["ready"]) == (200, True)
    publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-8/up", b'{"readings": {"temperature": "hot"}}')])
    wait_until(lambda: bool(json.loads(get(f"{running.http_url}/api/rejects")[1])["rejects"]), 20, "a reject")
    reject = json.loads(get(f"{running.http_url}/api/rejects")[1])["rejects"][0]
    assert (reject["device"], reject["reason"], reject["payload"]) == (
        "kit-8",
        "wrong_type",
        '{"readings": {"temperature": "hot"}}',
    )
    devices = json.loads(get(f"{running.http_url}/api/devices")[1])
    assert [d["id"] for d in devices["devices"]] == ["kit-7", "kit-8"]
    assert devices["devices"][0]["state"] == "never"


def test_what_the_status_page_showed_comes_back_after_a_restart(
    mosquitto: Mosquitto, running: IngestProcess, influxdb: InfluxDB, influx_db: str
) -> None:
    """#15 point 4: last seen, latest values, each device's latest reject and the reject count survive."""
    publish_all(
        mosquitto.host,
        mosquitto.port,
        [
            ("suitcase/kit-7/up", b'{"readings": {"co2": 734, "battery": 81}}'),
            ("suitcase/kit-8/up", b'{"readings": {"humidity": 140}}'),
        ],
    )
    wait_until(lambda: influxdb.count(influx_db) >= 2, 20, "kit-7's readings")
    before = json.loads(get(f"{running.http_url}/api/devices")[1])["devices"]
    assert running.terminate() == 0
    running.start()
    after = json.loads(get(f"{running.http_url}/api/devices")[1])["devices"]
    kit7, kit8 = after
    assert (kit7["id"], kit7["last_seen"], kit7["latest"]) == ("kit-7", before[0]["last_seen"], before[0]["latest"])
    assert kit7["latest"]["co2"]["value"] == 734
    assert (kit7["state"], kit7["messages"]) == ("ok", 1)
    assert kit8["last_reject"]["reason"] == "out_of_range", "why kit-8's data does not arrive, still"
    page = get(f"{running.http_url}/")[1].decode()
    assert 'id="fig-rejects_kept">rejects kept (all time)<b>1</b>' in page
