"""The simulator through the real ingest service, on real Mosquitto and InfluxDB (acceptance 2 and 4, and HTTP).

Each test runs `suitcase simulate` as a user would: register the fleet, start the service, send. The
expected outcome comes from the command itself: its summary, and its --dry-run stream (the same seed and
start give the same messages, which is checked too), which lists every message with the readings it must
store or the reject code it must produce.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, unique, wait_until

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
WEATHER = REPO / "simulators" / "testdata" / "aarhus-weather-sample.csv"
WEATHER_MAPPING = REPO / "simulators" / "mappings" / "citypulse-weather.toml"


def simulate(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, f"simulate {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def rejects_list(data_dir: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "iot_suitcase",
            "rejects",
            "list",
            "--data-dir",
            str(data_dir),
            "--json",
            "--limit",
            "100000",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def start_ingest(
    tmp_path: Path, broker: Mosquitto, influxdb: InfluxDB, db: str, root: str, **extra: str
) -> IngestProcess:
    settings = {
        "mqtt_host": broker.host,
        "mqtt_port": str(broker.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": root,
        "influx_url": influxdb.url,
        "influx_database": db,
        "batch_interval_s": "0.05",
        "registry_file": str(tmp_path / "registry.yaml"),
        "unknown_devices": "reject",
        **extra,
    }
    return IngestProcess(tmp_path / "ingest.log", settings).start()


def settled(read: Callable[[], int], want: int, what: str, timeout: float = 60) -> int:
    """Wait for ``want``, then a little longer: anything beyond it would be a bug that needs time to show."""
    wait_until(lambda: read() >= want, timeout, what)
    time.sleep(1.0)
    return read()


def stored_points(influxdb: InfluxDB, db: str, quantities: set[str]) -> Counter[tuple[str, str, float, int | None]]:
    """Every reading in the database as (quantity, device, value, time) with time None for receive times."""
    found: Counter[tuple[str, str, float, int | None]] = Counter()
    for quantity in quantities:
        for row in influxdb.points(db, quantity):
            found[(quantity, row["device"], row["value"], row["time"])] += 1
    return found


def test_500_devices_with_5_percent_faults_land_exactly_as_the_summary_says(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB, influx_db: str
) -> None:
    broker = mosquitto_factory()
    root = unique("fleet")
    start = (datetime.now(UTC) - timedelta(minutes=15)).isoformat(timespec="seconds").replace("+00:00", "Z")
    fleet = [
        *("--sites", "5", "--devices-per-site", "100", "--messages", "20", "--interval", "30"),
        *("--faults", "0.05", "--seed", "2026", "--start", start, "--topic-root", root),
    ]
    registry = tmp_path / "registry.yaml"
    simulate(*fleet, "--register", str(registry), "--register-only")
    simulate(*fleet, "--dry-run", "--output", str(tmp_path / "stream.jsonl"))
    simulate(*fleet, "--dry-run", "--output", str(tmp_path / "again.jsonl"))
    assert (tmp_path / "stream.jsonl").read_bytes() == (tmp_path / "again.jsonl").read_bytes()
    stream = [json.loads(line) for line in (tmp_path / "stream.jsonl").read_text().splitlines()]

    ingest = start_ingest(tmp_path, broker, influxdb, influx_db, root)
    try:
        summary_path = tmp_path / "summary.json"
        sent = simulate(
            *fleet,
            *("--speed", "0", "--summary-json", str(summary_path)),
            *("--mqtt-host", broker.host, "--mqtt-port", str(broker.port)),
        )
        summary = json.loads(summary_path.read_text())
        want_rejects = sum(summary["expected_rejects"].values())
        stored = settled(lambda: influxdb.count(influx_db), summary["valid_readings"], "every valid reading")
        wait_until(lambda: len(rejects_list(tmp_path / "ingest-data")) >= want_rejects, 60, "every reject")
    finally:
        assert ingest.terminate() == 0

    assert "valid readings" in sent.stdout
    assert summary["devices"] == 500
    assert summary["messages_sent"] == summary["acknowledged"] == sum(1 for m in stream if "topic" in m)
    assert stored == summary["valid_readings"] == sum(len(m["stores"]) for m in stream if "stores" in m)
    # faults: every kind injected, each with the reject code the summary promised, kind by kind
    for kind in ("malformed_json", "wrong_type", "out_of_range", "unknown_quantity", "unknown_device", "future"):
        assert summary["faults"][kind]["injected"] > 0, kind
    for kind in ("duplicate", "late", "silence", "burst"):
        assert summary["faults"][kind]["injected"] > 0, kind
        assert summary["faults"][kind]["reject_code"] is None, kind
    rejects = rejects_list(tmp_path / "ingest-data")
    assert Counter(r["reason"] for r in rejects) == Counter(summary["expected_rejects"])
    assert Counter(summary["expected_rejects"]) == Counter(
        {code: sum(1 for m in stream if m.get("reject") == code) for code in summary["expected_rejects"]}
    )
    # message by message: each reject is one of the faulty messages, with its code
    assert Counter((r["topic"], r["payload"], r["reason"]) for r in rejects) == Counter(
        (m["topic"], m["payload"], m["reject"]) for m in stream if "reject" in m
    )
    # reading by reading: value and device time; readings without one (receive time) by value
    expected: Counter[tuple[str, str, float, int | None]] = Counter(
        (quantity, m["device"], value, stamp) for m in stream for quantity, value, stamp in m.get("stores", [])
    )
    found = stored_points(influxdb, influx_db, {key[0] for key in expected})
    stamped = {key for key in expected if key[3] is not None}
    found_by_time = Counter({key: n for key, n in found.items() if key in stamped})
    assert found_by_time == Counter({key: n for key, n in expected.items() if key in stamped})
    untimed = Counter(key[:3] for key, n in found.items() for _ in range(n) if key not in stamped)
    assert untimed == Counter(key[:3] for key, n in expected.items() for _ in range(n) if key[3] is None)


def test_a_replayed_csv_lands_at_its_own_timestamps(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("replay")
    registry = tmp_path / "registry.yaml"
    replay = ("replay", str(WEATHER), "--mapping", str(WEATHER_MAPPING), "--topic-root", root)
    simulate(*replay, "--register", str(registry), "--register-only")
    ingest = start_ingest(tmp_path, mosquitto, influxdb, influx_db, root)
    try:
        simulate(*replay, "--mqtt-host", mosquitto.host, "--mqtt-port", str(mosquitto.port))
        with WEATHER.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        cells = sum(1 for row in rows for column in ("hum", "tempm", "wspdm") if row[column] != "-9999")
        settled(lambda: influxdb.count(influx_db), cells, "every cell of the CSV")
    finally:
        assert ingest.terminate() == 0
    assert influxdb.count(influx_db) == cells == 3 * 48 - 1
    device = "citypulse-weather-aarhus"
    for quantity, column, factor in (
        ("temperature", "tempm", 1.0),
        ("humidity", "hum", 1.0),
        ("wind_speed", "wspdm", 1 / 3.6),
    ):
        points = {p["time"]: p for p in influxdb.points(influx_db, quantity)}
        want = {
            round(datetime.fromisoformat(row["TIMESTAMP"]).replace(tzinfo=UTC).timestamp()) * 10**9: float(row[column])
            for row in rows
            if row[column] != "-9999"
        }
        assert set(points) == set(want), quantity
        for stamp, value in want.items():
            assert points[stamp]["value"] == pytest.approx(value * factor, abs=1e-3), (quantity, stamp)
            assert (points[stamp]["device"], points[stamp]["site"], points[stamp]["kind"]) == (
                device,
                "aarhus-c",
                "weather",
            )


def test_a_fleet_over_http_is_accepted_rejected_and_refused_as_the_summary_says(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("http")
    registry = tmp_path / "registry.yaml"
    security = {
        "SUITCASE_CREDENTIALS_FILE": str(tmp_path / "credentials.yaml"),
        "SUITCASE_MOSQUITTO_PASSWORD_FILE": str(tmp_path / "mosquitto" / "passwd"),
        "SUITCASE_MOSQUITTO_ACL_FILE": str(tmp_path / "mosquitto" / "acl"),
        "SUITCASE_MQTT_PASSWORD": unique("ingest-password-"),
    }
    fleet = [
        *("--transport", "http", "--sites", "2", "--devices-per-site", "12", "--messages", "10"),
        *("--interval", "30", "--faults", "0.15", "--seed", "5", "--topic-root", root),
    ]
    simulate(*fleet, "--register", str(registry), "--register-only")
    ingest = start_ingest(
        tmp_path, mosquitto, influxdb, influx_db, root, credentials_file=security["SUITCASE_CREDENTIALS_FILE"]
    )
    try:
        summary_path = tmp_path / "summary.json"
        simulate(
            *fleet,
            *("--speed", "0", "--http-url", ingest.http_url, "--issue-credentials"),
            *("--api-keys", str(tmp_path / "keys.jsonl"), "--summary-json", str(summary_path)),
            env=security,
        )
        summary = json.loads(summary_path.read_text())
        stored = settled(lambda: influxdb.count(influx_db), summary["valid_readings"], "every valid reading")
    finally:
        assert ingest.terminate() == 0
    http = summary["http"]
    assert set(summary["devices_by_format"]) == {"native", "senml", "sensor_community"}
    assert stored == summary["valid_readings"] > 0
    assert http["unexpected"] == []
    assert http["failed"] == 0
    assert http["rejected"] == summary["expected_rejects"]
    assert sum(http["rejected"].values()) > 0
    assert http["refused"] == ({"401": summary["expected_http_refusals"]} if summary["expected_http_refusals"] else {})
    assert summary["acknowledged"] == summary["messages_sent"] - summary["expected_http_refusals"]
    assert len((tmp_path / "keys.jsonl").read_text().splitlines()) == 24
    rejects = rejects_list(tmp_path / "ingest-data")
    assert Counter(r["reason"] for r in rejects) == Counter(summary["expected_rejects"])


def test_a_broker_restart_mid_run_loses_nothing(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB, influx_db: str
) -> None:
    broker = mosquitto_factory()
    root = unique("restart")
    # timestamped formats only: a message the publisher sends again overwrites its own points
    fleet = [*("--sites", "2", "--devices-per-site", "10", "--model", "native", "--format", "native,senml")]
    fleet += [*("--interval", "0.2", "--messages", "40", "--topic-root", root)]
    simulate(*fleet, "--register", str(tmp_path / "registry.yaml"), "--register-only")
    ingest = start_ingest(tmp_path, broker, influxdb, influx_db, root)
    try:
        summary_path = tmp_path / "summary.json"
        mqtt = ["--mqtt-host", broker.host, "--mqtt-port", str(broker.port)]
        running = subprocess.Popen(
            [sys.executable, "-m", "iot_suitcase", "simulate", *fleet, "--summary-json", str(summary_path), *mqtt],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(3.0)  # the run takes about 8 s in real time
        broker.restart()
        output, _ = running.communicate(timeout=120)
        assert running.returncode == 0, output
        summary = json.loads(summary_path.read_text())
        stored = settled(lambda: influxdb.count(influx_db), summary["valid_readings"], "every valid reading")
    finally:
        assert ingest.terminate() == 0
    assert summary["reconnects"] >= 1
    assert summary["acknowledged"] == summary["messages_sent"] == 800
    assert stored == summary["valid_readings"]
