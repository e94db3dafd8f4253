"""Zero-loss delivery under faults, on real Mosquitto and real InfluxDB (issue #3's acceptance).

Each test streams a checkable fleet (tests/fleet.py) through `suitcase ingest` processes while something
breaks: the service is SIGKILLed, InfluxDB or Mosquitto goes away, the log fills up, InfluxDB refuses a
point, a worker of a shared subscription dies, SIGTERM arrives. Afterwards the database must hold
exactly the published readings.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.fleet import StreamPublisher, expected, fleet, observed
from tests.helpers import IngestProcess, publish_all, unique, wait_until

pytestmark = pytest.mark.slow


def ingest_settings(broker: Mosquitto, influxdb: InfluxDB, db: str, root: str, **extra: str) -> dict[str, str]:
    return {
        "mqtt_host": broker.host,
        "mqtt_port": str(broker.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": root,
        "influx_url": influxdb.url,
        "influx_database": db,
        "batch_interval_s": "0.05",
        **extra,
    }


def wait_for_all(influxdb: InfluxDB, db: str, points: int, timeout: float = 120) -> None:
    wait_until(lambda: influxdb.count(db) >= points, timeout, f"{points} points in InfluxDB")
    time.sleep(0.5)  # anything beyond the expected count would be a duplicate: give it time to show


def statuses(log: str) -> list[dict[str, str]]:
    return [dict(re.findall(r"(\w+)=(\S+)", line)) for line in log.splitlines() if " status " in line]


def test_sigkill_five_times_loses_and_duplicates_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("kill")
    messages = fleet(root, devices=100, per_device=200)
    want = expected(messages)
    ingest = IngestProcess(tmp_path / "ingest.log", ingest_settings(mosquitto, influxdb, influx_db, root)).start()
    publisher = StreamPublisher(mosquitto.host, mosquitto.port, messages, rate=2000)
    publisher.start()
    rng = random.Random(20261122)
    kills = 0
    try:
        for moment in sorted(rng.uniform(0.5, 9.0) for _ in range(5)):
            publisher.wait_published(moment * 2000)
            ingest.kill()
            kills += 1
            ingest.start()
        publisher.finish()
        wait_for_all(influxdb, influx_db, sum(want.values()))
    finally:
        ingest.terminate()
    assert kills == 5
    assert ingest.log().count("replaying the write-ahead log") + ingest.log().count("session_present=True") >= 5
    assert observed(influxdb, influx_db, want) == want


def test_influxdb_down_for_a_minute_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influxdb_factory: Callable[..., InfluxDB]
) -> None:
    database = influxdb_factory()
    database.create_database("outage")
    root = unique("outage")
    messages = fleet(root, devices=20, per_device=400)  # 8,000 messages over 80 s
    want = expected(messages)
    ingest = IngestProcess(tmp_path / "ingest.log", ingest_settings(mosquitto, database, "outage", root)).start()
    publisher = StreamPublisher(mosquitto.host, mosquitto.port, messages, rate=100)
    publisher.start()
    try:
        publisher.wait_published(1000)
        database.stop()
        time.sleep(60)
        database.start()
        publisher.finish()
        wait_for_all(database, "outage", sum(want.values()))
        wait_until(lambda: statuses(ingest.log())[-1].get("backlog_records") == "0", 30, "the log to drain")
    finally:
        ingest.terminate()
    backlog = [int(s["backlog_records"]) for s in statuses(ingest.log())]
    assert max(backlog) >= 4000, "the log must have grown while InfluxDB was down"
    assert any(s["influx"] == "failing" for s in statuses(ingest.log()))
    assert backlog[-1] == 0
    assert observed(database, "outage", want) == want


def test_broker_restart_mid_stream_loses_nothing(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB, influx_db: str
) -> None:
    broker = mosquitto_factory()
    root = unique("broker")
    messages = fleet(root, devices=50, per_device=100)
    want = expected(messages)
    ingest = IngestProcess(tmp_path / "ingest.log", ingest_settings(broker, influxdb, influx_db, root)).start()
    publisher = StreamPublisher(broker.host, broker.port, messages, rate=1000)
    publisher.start()
    try:
        publisher.wait_published(2000)
        broker.restart()
        publisher.finish()
        wait_for_all(influxdb, influx_db, sum(want.values()))
    finally:
        ingest.terminate()
    assert ingest.log().count("connected to broker") >= 2, "the service must have reconnected by itself"
    seen = observed(influxdb, influx_db, want)
    # QoS 1 allows the publisher's own resend after the restart to reach the broker twice; only loss counts here.
    assert set(seen) == set(want)


def test_full_log_stops_acking_instead_of_dropping(
    tmp_path: Path, mosquitto: Mosquitto, influxdb_factory: Callable[..., InfluxDB]
) -> None:
    database = influxdb_factory()
    database.stop()
    root = unique("full")
    messages = fleet(root, devices=10, per_device=200)
    want = expected(messages)
    settings = ingest_settings(mosquitto, database, "full", root, wal_max_bytes="20000", mqtt_receive_maximum="100")
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in messages])
        wait_until(lambda: "write-ahead log is full" in ingest.log(), 30, "the log to fill up")
        wait_until(lambda: bool(statuses(ingest.log())), 10, "a status line")
        time.sleep(3)
        status = statuses(ingest.log())[-1]
        assert int(status["acked"]) < len(messages) / 2, "with the log full the service must stop acking"
        assert int(status["backlog_bytes"]) <= 20000
        assert status["log_full"] == "True"
        database.start()
        database.create_database("full")
        wait_for_all(database, "full", sum(want.values()))
    finally:
        ingest.terminate()
    assert observed(database, "full", want) == want


def test_refused_point_becomes_a_reject_and_the_rest_is_stored(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    influxdb.write(influx_db, "co2,device=legacy value=400i")  # someone else made co2's field an integer
    root = unique("conflict")
    messages = fleet(root, devices=10, per_device=30)
    ingest = IngestProcess(tmp_path / "ingest.log", ingest_settings(mosquitto, influxdb, influx_db, root)).start()
    try:
        conflicting = (f"{root}/dev-000/up", b'{"readings": {"co2": 612}}')
        stream = [(m.topic, m.payload) for m in messages]
        publish_all(mosquitto.host, mosquitto.port, [*stream[:150], conflicting, *stream[150:]])
        want = expected(messages)
        wait_for_all(influxdb, influx_db, sum(want.values()) + 1)
        wait_until(lambda: "code=unwritable" in ingest.log(), 30, "the refused point to become a reject")
    finally:
        ingest.terminate()
    assert observed(influxdb, influx_db, want) == want
    assert influxdb.count(influx_db, "co2") == 1
    listed = rejects_list(tmp_path / "ingest-data", "--reason", "unwritable")
    assert len(listed) == 1
    assert listed[0]["device"] == "dev-000"
    assert listed[0]["payload"] == '{"readings": {"co2": 612}}'
    assert "field type conflict" in listed[0]["detail"]


def test_three_shared_workers_one_killed_lose_and_duplicate_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("shared")
    group = unique("workers")
    messages = fleet(root, devices=60, per_device=100)
    want = expected(messages)
    workers = []
    for number in range(3):
        directory = tmp_path / f"worker-{number}"
        directory.mkdir()
        settings = ingest_settings(mosquitto, influxdb, influx_db, root, mqtt_share_group=group)
        workers.append(IngestProcess(directory / "ingest.log", settings).start())
    publisher = StreamPublisher(mosquitto.host, mosquitto.port, messages, rate=1500)
    publisher.start()
    try:
        publisher.wait_published(2500)
        workers[1].kill()
        time.sleep(0.5)
        workers[1].start()
        publisher.finish()
        wait_for_all(influxdb, influx_db, sum(want.values()))
    finally:
        for worker in workers:
            worker.terminate()
    shares = [int(w.log().split("stopped ")[-1].split("received=")[1].split()[0]) for w in workers]
    assert all(share > 0 for share in shares), f"every worker must take part: {shares}"
    assert observed(influxdb, influx_db, want) == want


def test_sigterm_exits_quickly_and_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("term")
    messages = fleet(root, devices=50, per_device=100)
    want = expected(messages)
    ingest = IngestProcess(tmp_path / "ingest.log", ingest_settings(mosquitto, influxdb, influx_db, root)).start()
    publisher = StreamPublisher(mosquitto.host, mosquitto.port, messages, rate=1500)
    publisher.start()
    try:
        publisher.wait_published(2000)
        started = time.monotonic()
        code = ingest.terminate(timeout=10)
        took = time.monotonic() - started
        ingest.start()
        publisher.finish()
        wait_for_all(influxdb, influx_db, sum(want.values()))
    finally:
        ingest.terminate()
    assert code == 0
    assert took < 10
    assert observed(influxdb, influx_db, want) == want


def rejects_list(data_dir: Path, *args: str) -> list[dict[str, str]]:
    result = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "rejects", "list", "--data-dir", str(data_dir), "--json", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_every_reject_of_a_mixed_stream_is_listed_with_reason_and_payload(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("mixed")
    bad = {
        "malformed_json": (f"{root}/m-1/up", b'{"readings": {"temperature": 2'),
        "out_of_range": (f"{root}/m-2/up", b'{"readings": {"humidity": 101}}'),
        "unknown_quantity": (f"{root}/m-3/up", b'{"readings": {"mood": 3}}'),
        "not_finite": (f"{root}/m-4/up", b'{"readings": {"co2": NaN}}'),
        "wrong_type": (f"{root}/m-5/up", b'{"readings": {"co2": "600"}}'),
    }
    good = fleet(root, devices=5, per_device=20, prefix="ok-")
    stream = [(m.topic, m.payload) for m in good]
    for index, message in enumerate(bad.values()):
        stream.insert(index * 20 + 7, message)
    ingest = IngestProcess(tmp_path / "ingest.log", ingest_settings(mosquitto, influxdb, influx_db, root)).start()
    try:
        publish_all(mosquitto.host, mosquitto.port, stream)
        wait_for_all(influxdb, influx_db, sum(expected(good).values()))
    finally:
        ingest.terminate()
    listed = rejects_list(tmp_path / "ingest-data")
    assert sorted(r["reason"] for r in listed) == sorted(bad)
    for reject in listed:
        topic, payload = bad[reject["reason"]]
        assert reject["topic"] == topic
        assert reject["payload"] == payload.decode()
        assert reject["detail"]
        assert reject["device"] == topic.split("/")[1]
    only_m2 = rejects_list(tmp_path / "ingest-data", "--device", "m-2")
    assert [r["reason"] for r in only_m2] == ["out_of_range"]
    assert observed(influxdb, influx_db, expected(good)) == expected(good)


def test_a_retained_message_is_stored_once_across_reconnects(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("retain")
    retained = ["-t", f"{root}/kit-r/up", "-m", '{"readings": {"temperature": 20.5}}', "-r", "-q", "1"]
    subprocess.run(["mosquitto_pub", "-h", mosquitto.host, "-p", str(mosquitto.port), *retained], check=True)
    ingest = IngestProcess(tmp_path / "ingest.log", ingest_settings(mosquitto, influxdb, influx_db, root)).start()
    try:
        wait_for_all(influxdb, influx_db, 1)
        for reconnects in (1, 2):  # the same client id: the broker finds the session and its subscriptions
            ingest.terminate()
            ingest.start()
            wait_until(lambda: sessions_found(ingest) >= reconnects, 30, "a reconnect")  # noqa: B023
        time.sleep(1.5)  # a retained copy taken in again would be stored with a new receive time
    finally:
        ingest.terminate()
    assert influxdb.count(influx_db) == 1, "the retained message came in once, not once per connection"


def sessions_found(ingest: IngestProcess) -> int:
    return ingest.log().count("session_present=True")


def test_new_messages_are_never_dropped_as_redeliveries_after_a_broker_crash(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB, influx_db: str
) -> None:
    """#13 point 3: a broker that crashed before saving its state hands out packet ids it had used already."""
    broker = mosquitto_factory(autosave_interval_s=3600)  # a kill -9 loses everything since start
    root = unique("reuse")
    same = [(f"{root}/dev-1/up", b'{"readings": {"co2": 612}}')] * 300  # identical, no device timestamp
    settings = ingest_settings(broker, influxdb, influx_db, root, mqtt_client_id="suitcase-ingest-reuse")
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        publish_all(broker.host, broker.port, same)
        wait_for_all(influxdb, influx_db, 300)
        broker.kill()
        broker.start()
        wait_until(lambda: ingest.log().count("connected to broker") >= 2, 30, "the service to reconnect")
        assert ingest.proc is not None
        ingest.proc.send_signal(signal.SIGSTOP)  # paused: the broker's sends wait in its socket
        publish_all(broker.host, broker.port, same)
        time.sleep(1)
        ingest.kill()  # dies with them unacknowledged: the broker sends them again, DUP set, reused ids
        ingest.start()
        wait_until(lambda: influxdb.count(influx_db) >= 600, 60, "600 points")
        time.sleep(1)
    finally:
        ingest.terminate()
    assert influxdb.count(influx_db) == 600, "every new message is stored, none taken for a redelivery"
    final = dict(re.findall(r"(\w+)=(\S+)", ingest.log().rsplit("stopped ", 1)[1]))
    assert final["duplicates"] == "0"
    assert int(final["possible_duplicates"]) == 300, "counted as possible duplicates, as the README says"
