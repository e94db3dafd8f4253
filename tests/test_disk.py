"""A disk that fills up or turns read-only (#13 point 2), on a real tmpfs, real Mosquitto and real InfluxDB.

The write-ahead log must stop acknowledging (the broker keeps the messages), say so once in the log, on
/readyz, /metrics and the status page, and go on by itself when the disk takes writes again: 0 lost.
Mounting a tmpfs needs root (CI runs as root); elsewhere these tests are skipped with that reason.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.console import viewer
from tests.fleet import expected, fleet, observed
from tests.helpers import IngestProcess, publish_all, unique, wait_until

pytestmark = pytest.mark.slow

LOG_FAILED = "the write-ahead log cannot be written"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 5 MB tmpfs, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(mount)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def get(ingest: IngestProcess, path: str) -> tuple[int, str]:
    """A console path as a logged-in viewer sees it."""
    answer = viewer(ingest).get(path)
    return answer.status, answer.text


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte (dd stops with ENOSPC)."""
    filler = disk / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False)
    return filler


def settings(broker: Mosquitto, influxdb: InfluxDB, db: str, root: str, data_dir: Path) -> dict[str, str]:
    return {
        "mqtt_host": broker.host,
        "mqtt_port": str(broker.port),
        "mqtt_client_id": unique("suitcase-ingest-disk-"),
        "topic_root": root,
        "influx_url": influxdb.url,
        "influx_database": db,
        "batch_interval_s": "0.05",
        "data_dir": str(data_dir),
        "wal_segment_bytes": str(256 * 1024),
    }


def test_a_full_disk_stops_acks_says_so_everywhere_and_ingestion_resumes_by_itself(
    tmp_path: Path, small_disk: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("full")
    before, during = fleet(root, devices=10, per_device=20), fleet(root, devices=10, per_device=200, prefix="d-")
    want = expected(before) + expected(during)
    ingest = IngestProcess(tmp_path / "ingest.log", settings(mosquitto, influxdb, influx_db, root, small_disk / "d"))
    ingest.start()
    try:
        publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in before])
        wait_until(lambda: influxdb.count(influx_db) >= sum(expected(before).values()), 30, "the first messages")
        filler = fill(small_disk)
        publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in during])
        wait_until(lambda: LOG_FAILED in ingest.log(), 30, "the failure to be logged")
        time.sleep(3)
        status, body = get(ingest, "/readyz")
        assert status == 503
        assert any("No space left on device" in problem for problem in json.loads(body)["problems"])
        figures = metrics(ingest)
        assert figures["suitcase_wal_writable"] == 0
        assert figures["suitcase_messages_acked_total"] < len(before) + len(during), "acks stopped"
        page = get(ingest, "/")[1]
        assert 'data-problem="log_unwritable"' in page, "the console says it"
        assert "No space left on device" in page, "with what the system said"
        filler.unlink()  # an operator frees space; nobody restarts anything
        wait_until(lambda: influxdb.count(influx_db) >= sum(want.values()), 60, "every message after space came back")
        time.sleep(1)
        assert get(ingest, "/readyz")[0] == 200
    finally:
        code = ingest.terminate()
    assert code == 0
    assert ingest.log().count(LOG_FAILED) == 1, "said once, not once per retry"
    assert "can be written again" in ingest.log()
    assert observed(influxdb, influx_db, want) == want


def metrics(ingest: IngestProcess) -> dict[str, float]:
    text = get(ingest, "/metrics")[1]
    return {
        name: float(value)
        for name, value in (line.split() for line in text.splitlines() if line and not line.startswith("#"))
    }


@pytest.fixture
def ext4_disk(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An ext4 file system on a loop device that turns read-only on errors, as a real one does; (mount, image)."""
    image, mount = tmp_path / "disk.ext4", tmp_path / "ext4"
    mount.mkdir()
    subprocess.run(["truncate", "-s", "32M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True, capture_output=True)
    result = subprocess.run(
        ["mount", "-o", "loop,errors=remount-ro", str(image), str(mount)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a loop device here (needs root): {result.stderr.strip()}")
    try:
        yield mount, image
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def turn_read_only(mount: Path) -> None:
    """What the kernel does to an ext4 with errors=remount-ro after an I/O error: EROFS on every write."""
    device = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mount)], capture_output=True, text=True, check=True)
    Path(f"/sys/fs/ext4/{Path(device.stdout.strip()).name}/trigger_fs_error").write_text("1")


def test_a_disk_turning_read_only_then_sigterm_exits_cleanly_and_a_restart_stores_everything(
    tmp_path: Path, ext4_disk: tuple[Path, Path], mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    mount, image = ext4_disk
    root = unique("ro")
    before, during = fleet(root, devices=10, per_device=10), fleet(root, devices=10, per_device=50, prefix="d-")
    want = expected(before) + expected(during)
    ingest = IngestProcess(tmp_path / "ingest.log", settings(mosquitto, influxdb, influx_db, root, mount / "d"))
    ingest.start()
    try:
        publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in before])
        wait_until(lambda: influxdb.count(influx_db) >= sum(expected(before).values()), 30, "the first messages")
        turn_read_only(mount)
        publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in during])
        wait_until(lambda: "Read-only file system" in ingest.log(), 30, "the read-only disk to be noticed")
        assert get(ingest, "/readyz")[0] == 503
        started = time.monotonic()
        code = ingest.terminate(timeout=15)
        took = time.monotonic() - started
        assert code == 0, "a clean exit"
        assert took < 10
        assert "Traceback" not in ingest.log()
        subprocess.run(["umount", str(mount)], check=True)  # the operator repairs the disk
        subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True, check=False)
        subprocess.run(["mount", "-o", "loop", str(image), str(mount)], check=True)
        ingest.start()
        wait_until(lambda: influxdb.count(influx_db) >= sum(want.values()), 60, "every message after the restart")
        time.sleep(1)
    finally:
        ingest.terminate()
    assert observed(influxdb, influx_db, want) == want


def test_a_healthy_service_keeps_its_log_near_one_segment(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("small")
    segment = 64 * 1024
    messages = fleet(root, devices=50, per_device=100)  # ~1.5 MB of log records, ~25 segments' worth
    data = tmp_path / "data"
    config = {**settings(mosquitto, influxdb, influx_db, root, data), "wal_segment_bytes": str(segment)}
    ingest = IngestProcess(tmp_path / "ingest.log", config)
    ingest.start()
    try:
        publish_all(mosquitto.host, mosquitto.port, [(m.topic, m.payload) for m in messages])
        wait_until(lambda: influxdb.count(influx_db) >= sum(expected(messages).values()), 60, "all stored")
        time.sleep(1.5)  # the last acks' PINGRESP, the drainer's last commit
        segments = list((data / "wal").glob("*.seg"))
        total = sum(path.stat().st_size for path in segments)
    finally:
        ingest.terminate()
    assert len(segments) <= 2, f"drained segments are deleted: {len(segments)} left"
    assert total <= 2 * segment + 4096
