"""`suitcase ingest --workers 3` (#20 point 2) on real Mosquitto and InfluxDB: a worker killed with SIGKILL
mid-stream is started again by the supervisor and nothing is lost or stored twice; worker 0 reports every
worker's readiness and metrics; SIGTERM stops them all cleanly."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.workers import DEFAULT_SHARE_GROUP, plan_workers, worker_count, workers_to_start
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.console import console, request
from tests.fleet import StreamPublisher, expected, fleet, observed
from tests.helpers import IngestProcess, publish_all, unique, wait_until

TOKEN = secrets.token_urlsafe(16)  # this run's scraper token
PASSWORD = secrets.token_urlsafe(16)


def supervised(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, db: str, root: str, **extra: str
) -> IngestProcess:
    settings = {
        "workers": "3",
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "mqtt_share_group": unique("group"),
        "topic_root": root,
        "influx_url": influxdb.url,
        "influx_database": db,
        "batch_interval_s": "0.05",
        "metrics_token": TOKEN,
    }
    return IngestProcess(tmp_path / "ingest.log", settings | extra)


def worker_pids(log: str) -> dict[int, int]:
    """The latest pid of each worker, as the supervisor logged it."""
    return {int(w): int(pid) for w, pid in re.findall(r"worker started worker=(\d+) pid=(\d+)", log)}


def worker_0_url(ingest: IngestProcess) -> str:
    """Where worker 0 serves HTTP: the one listening port that is not another worker's."""
    log = ingest.log()
    others = set(re.findall(r"worker started worker=[1-9]\d* pid=\d+ restarts=\d+ http_port=(\d+)", log))
    ports = [p for p in re.findall(r"http server listening host=\S+ port=(\d+)", log) if p not in others]
    assert ports, "worker 0 serves no HTTP"
    return f"http://127.0.0.1:{ports[-1]}"


def ask(url: str, token: str | None = None) -> tuple[int, str]:
    answer = request(url, headers={"Authorization": f"Bearer {token}"} if token else None)
    return answer.status, answer.text


@pytest.mark.slow
def test_three_workers_one_killed_mid_stream_lose_and_duplicate_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("workers")
    messages = fleet(root, devices=60, per_device=100)
    want = expected(messages)
    ingest = supervised(tmp_path, mosquitto, influxdb, influx_db, root).start()
    wait_until(lambda: ingest.log().count("connected to broker") >= 3, 30, "three workers connected")
    publisher = StreamPublisher(mosquitto.host, mosquitto.port, messages, rate=1500)
    publisher.start()
    try:
        publisher.wait_published(2500)
        killed = worker_pids(ingest.log())[1]
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: worker_pids(ingest.log())[1] != killed, 30, "worker 1 started again")
        publisher.finish()
        wait_until(lambda: influxdb.count(influx_db) >= sum(want.values()), 120, "every reading stored")
        time.sleep(0.5)  # anything beyond the expected count would be a duplicate: give it time to show
        assert observed(influxdb, influx_db, want) == want
        log = ingest.log()
        assert f"worker ended; starting it again worker=1 pid={killed} how=signal SIGKILL" in log
        assert ingest.proc is not None
        assert ingest.proc.poll() is None, "the supervisor itself runs on"
    finally:
        code = ingest.terminate(timeout=30)
    assert code == 0
    shares = [int(n) for n in re.findall(r"stopped .*?received=(\d+)", ingest.log())]
    assert sum(share > 0 for share in shares) >= 3, f"every worker took part: {shares}"
    assert "supervisor stopped" in ingest.log()


def test_worker_0_reports_every_workers_devices_readiness_and_metrics(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("ready")
    messages = fleet(root, devices=30, per_device=10)
    ingest = supervised(tmp_path, mosquitto, influxdb, influx_db, root).start()
    try:
        wait_until(lambda: ingest.log().count("http server listening") >= 3, 30, "three workers serving")
        url = worker_0_url(ingest)
        wait_until(lambda: ask(f"{url}/readyz")[0] == 200, 30, "all three ready")
        publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in messages])
        staff = console(url, Path(ingest.env["SUITCASE_ACCOUNTS_FILE"]))

        def devices() -> dict[str, Any]:
            answer: dict[str, Any] = json.loads(staff.get("/api/devices").body)
            return answer

        wait_until(lambda: devices()["pipeline"]["acked"] == len(messages), 30, "every worker's messages counted")
        shown = devices()
        rows = {row["id"]: row for row in shown["devices"]}
        assert len(rows) == 30
        assert {row["messages"] for row in rows.values()} == {10}, "each device's messages, whichever worker took them"
        assert all(row["last_seen"] and set(row["latest"]) == {"temperature", "humidity"} for row in rows.values())
        assert shown["pipeline"]["received"] == len(messages)
        page = staff.get("/").text
        assert "dev-029" in page, "the console's fleet shows a device whichever worker took its messages"
        others = re.findall(r"worker started worker=[1-9] pid=\d+ restarts=\d+ http_port=(\d+)", ingest.log())
        for port in others:  # what workers ask each other: with this run's token only
            assert ask(f"http://127.0.0.1:{port}/internal/board")[0] == 401
            assert ask(f"http://127.0.0.1:{port}/internal/board", "a-guess")[0] == 401
            assert ask(f"http://127.0.0.1:{port}/metrics", "a-guess")[0] == 401
        assert ask(f"{url}/internal/board", "a-guess")[0] == 401
        status, text = ask(f"{url}/metrics", TOKEN)
        assert status == 200
        for worker in ("0", "1", "2"):
            assert f'suitcase_worker_up{{worker="{worker}"}} 1.0' in text
            assert re.search(rf'suitcase_messages_received_total{{[^}}]*worker="{worker}"', text), worker
        assert text.count("# TYPE suitcase_messages_received_total counter") <= 1, "one family, every worker's samples"

        stopped = worker_pids(ingest.log())[2]
        os.kill(stopped, signal.SIGSTOP)  # alive but not answering: not ready, said so
        try:
            wait_until(lambda: ask(f"{url}/readyz")[0] == 503, 30, "not ready without worker 2")
            assert "worker 2: does not answer" in ask(f"{url}/readyz")[1]
            assert 'suitcase_worker_up{worker="2"} 0.0' in ask(f"{url}/metrics", TOKEN)[1]
        finally:
            os.kill(stopped, signal.SIGCONT)
        wait_until(lambda: ask(f"{url}/readyz")[0] == 200, 30, "ready again")
    finally:
        assert ingest.terminate(timeout=30) == 0


def test_each_worker_gets_its_own_session_log_and_port_and_worker_0_the_installations() -> None:
    settings = IngestSettings(
        _env_file=None,
        mqtt_client_id="suitcase-ingest-city",
        data_dir=Path("/srv/ingest"),
        http_port=8080,
        broker_log_file=Path("/var/log/mosquitto.log"),
        mqtt_password=PASSWORD,
    )
    workers = plan_workers(settings, 3)
    env = [w.environment for w in workers]
    assert [e["SUITCASE_MQTT_CLIENT_ID"] for e in env] == [
        "suitcase-ingest-city",
        "suitcase-ingest-city.1",
        "suitcase-ingest-city.2",
    ]
    assert [e["SUITCASE_DATA_DIR"] for e in env] == ["/srv/ingest", "/srv/ingest/workers/1", "/srv/ingest/workers/2"]
    assert env[0]["SUITCASE_HTTP_PORT"] == "8080"
    assert env[0]["SUITCASE_BROKER_LOG_FILE"] == "/var/log/mosquitto.log"
    assert all("SUITCASE_BROKER_LOG_FILE" not in e for e in env[1:])
    assert all(e["SUITCASE_HTTP_HOST"] == "127.0.0.1" for e in env[1:])
    ports = {e["SUITCASE_HTTP_PORT"] for e in env[1:]}
    assert len(ports) == 2
    assert "8080" not in ports
    assert all(e["SUITCASE_MQTT_SHARE_GROUP"] == DEFAULT_SHARE_GROUP for e in env)
    assert all(e["SUITCASE_WORKERS"] == "1" for e in env), "a worker does not supervise"
    assert all(e["SUITCASE_MQTT_PASSWORD"] == PASSWORD for e in env)
    assert len({e["SUITCASE_WORKER_TOKEN"] for e in env}) == 1, "one token made for the run, for all"
    assert len(env[0]["SUITCASE_WORKER_TOKEN"]) >= 40
    assert {e["SUITCASE_REJECTS_FILE"] for e in env[1:]} == {"/srv/ingest/rejects.sqlite3"}, "one store for all"
    long_id = "suitcase-ingest" + "x" * 40  # the longest the pattern allows
    assert all(len(w.environment["SUITCASE_MQTT_CLIENT_ID"]) <= len(long_id)
               for w in plan_workers(IngestSettings(_env_file=None, mqtt_client_id=long_id), 12))  # fmt: skip
    assert worker_count("auto") == len(os.sched_getaffinity(0))
    assert worker_count(3) == 3


@pytest.mark.slow
def test_a_service_that_ran_as_one_process_goes_to_two_workers_and_back_without_loss_or_duplicates(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    """What waited in the one process's session is taken in by worker 0 (same client id), once: its plain
    subscription is dropped when it joins the shared one. Asked for one worker again, the supervisor keeps
    both, since worker 1's session and log may hold messages."""
    root = unique("switch")
    messages = fleet(root, devices=20, per_device=30)
    want = expected(messages)
    client_id = unique("suitcase-ingest-")
    one = supervised(tmp_path, mosquitto, influxdb, influx_db, root, workers="1", mqtt_client_id=client_id,
                     mqtt_share_group="").start()  # fmt: skip
    one.terminate()
    waiting, later = messages[:200], messages[200:400]
    publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in waiting])  # queued for its session
    two = supervised(tmp_path, mosquitto, influxdb, influx_db, root, workers="2", mqtt_client_id=client_id,
                     mqtt_share_group="").start()  # fmt: skip
    try:
        wait_until(lambda: two.log().count("connected to broker") >= 3, 30, "two workers connected")
        publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in later])
    finally:
        assert two.terminate(timeout=30) == 0
    again = supervised(tmp_path, mosquitto, influxdb, influx_db, root, workers="1", mqtt_client_id=client_id,
                       mqtt_share_group="").start()  # fmt: skip
    try:
        wait_until(lambda: again.log().count("connected to broker") >= 5, 30, "both workers again")
        assert "starting=2" in again.log(), "asked for one, it keeps the two that ran"
        publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in messages[400:]])
        wait_until(lambda: influxdb.count(influx_db) >= sum(want.values()), 60, "every reading stored")
        time.sleep(0.5)  # anything beyond the expected count would be a duplicate: give it time to show
    finally:
        assert again.terminate(timeout=30) == 0
    assert observed(influxdb, influx_db, want) == want


def test_a_data_dir_that_ran_more_workers_starts_as_many(tmp_path: Path) -> None:
    settings = IngestSettings(_env_file=None, data_dir=tmp_path, workers=1)
    assert workers_to_start(settings) == 1
    (tmp_path / "workers.json").write_text('{"workers": 3}')
    assert workers_to_start(settings) == 3
    assert workers_to_start(IngestSettings(_env_file=None, data_dir=tmp_path, workers=4)) == 4
    worker = IngestSettings(_env_file=None, data_dir=tmp_path, workers=1, worker_index=0)
    assert workers_to_start(worker) == 1, "a worker (worker 0 shares the data dir) never supervises workers"
    (tmp_path / "workers.json").write_text("not json")
    assert workers_to_start(settings) == 1, "an unreadable record is no reason not to start"
