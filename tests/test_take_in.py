"""The first reading is never lost (#15 point 6): messages a device sent before it was registered are kept,
and once it is registered they are taken in with the times they arrived, once, never twice."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.ingest.console.accounts import Role
from iot_suitcase.ingest.sink.points import time_ns
from iot_suitcase.ingest.sink.rejects import RejectStore
from iot_suitcase.ingest.wal.records import Reject
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.console import Console, console
from tests.helpers import IngestProcess, publish_all, unique, wait_until


@pytest.fixture
def service(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str) -> Iterator[IngestProcess]:
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "kit-1", "model": "native", "site": "dokk1"}))
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.05",
        "unknown_devices": "reject",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    yield ingest
    ingest.terminate()


def replay(tmp_path: Path, device: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "iot_suitcase",
            "rejects",
            "replay",
            device,
            "--data-dir",
            str(tmp_path / "ingest-data"),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def stored(influxdb: InfluxDB, database: str, device: str) -> list[tuple[str, float]]:
    return sorted(
        (str(p["time"]), float(p["value"])) for p in influxdb.points(database, "temperature") if p["device"] == device
    )


def test_messages_of_a_device_registered_late_are_taken_in_with_their_times_once(
    tmp_path: Path, mosquitto: Mosquitto, service: IngestProcess, influxdb: InfluxDB, influx_db: str
) -> None:
    for value in (20, 21, 22):
        publish_all(
            mosquitto.host, mosquitto.port, [("suitcase/late-1/up", b'{"readings": {"temperature": %d}}' % value)]
        )
        time.sleep(0.05)
    wait_until(lambda: service.log().count("code=unknown_device device=late-1") == 3, 20, "three rejects")
    store = RejectStore(tmp_path / "ingest-data" / "rejects.sqlite3")
    kept = store.oldest_waiting("late-1", 10)
    assert store.waiting() == {"late-1": 3}
    staff = console(service.http_url, tmp_path / "accounts.sqlite3")
    assert "3 messages waiting" not in staff.get("/").text, "not offered while the device is unknown"

    refused = replay(tmp_path, "late-1")
    assert refused.returncode == 1, "not registered yet: nothing is taken in"
    assert "still wait" in refused.stdout
    assert stored(influxdb, influx_db, "late-1") == []

    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "late-1", "model": "native", "site": "dokk1"}))
    wait_until(lambda: "3 messages waiting" in staff.get("/").text, 20, "the console to offer them")
    taken = replay(tmp_path, "late-1")
    assert taken.returncode == 0, taken.stdout + taken.stderr
    assert "taken in: 3 messages of late-1" in taken.stdout
    wait_until(lambda: len(stored(influxdb, influx_db, "late-1")) == 3, 20, "three readings in InfluxDB")
    points = stored(influxdb, influx_db, "late-1")
    assert [value for _time, value in points] == [20.0, 21.0, 22.0]
    arrived = sorted(str(time_ns(k.received_at)) for k in kept)
    assert [t for t, _value in points] == arrived, "each stored at the time it arrived, not when taken in"
    assert store.waiting() == {}, "no longer listed as rejects"
    assert "no messages of late-1 are waiting" in replay(tmp_path, "late-1").stdout

    # taken in again (as after a crash between the log and forgetting the rejects): stored once all the same
    store.add(
        [(b"again-%d" % k.id, Reject(k.topic, k.payload, k.received_at, "late-1", k.code, k.reason)) for k in kept]
    )
    assert replay(tmp_path, "late-1").returncode == 0
    time.sleep(1)
    assert stored(influxdb, influx_db, "late-1") == points
    store.close()
    assert "took in waiting messages device=late-1 messages=3 rejected_again=0" in service.log()


def test_an_operator_takes_waiting_messages_in_from_the_console(
    tmp_path: Path, mosquitto: Mosquitto, service: IngestProcess, influxdb: InfluxDB, influx_db: str
) -> None:
    publish_all(mosquitto.host, mosquitto.port, [("suitcase/late-2/up", b'{"readings": {"temperature": 19}}')])
    wait_until(lambda: "code=unknown_device device=late-2" in service.log(), 20, "the reject")
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "late-2", "model": "native", "site": "dokk1"}))
    viewer = console(service.http_url, tmp_path / "accounts.sqlite3")
    wait_until(lambda: "1 messages waiting" in viewer.get("/").text, 20, "the console to offer it")
    assert 'action="/devices/late-2/take-in"' not in viewer.get("/").text, "a viewer sees, an operator acts"
    assert viewer.post("/devices/late-2/take-in", {"csrf": viewer.csrf()}).status == 403
    operator: Console = console(service.http_url, tmp_path / "accounts.sqlite3", role=Role.OPERATOR)
    page = operator.get("/").text
    assert 'action="/devices/late-2/take-in"' in page
    assert operator.post("/devices/late-2/take-in", {"csrf": operator.csrf()}).status == 303
    wait_until(lambda: stored(influxdb, influx_db, "late-2") != [], 20, "the reading in InfluxDB")
    wait_until(lambda: "messages waiting" not in operator.get("/").text, 20, "the offer to go")
