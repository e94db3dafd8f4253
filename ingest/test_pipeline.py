"""The pipeline's redelivery recognition and group commit, with a real log, rejects store and InfluxDB."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.settings import DecodeSettings
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.intake.intake import DeviceRequest
from iot_suitcase.ingest.pipeline import Pipeline
from iot_suitcase.ingest.sink.influx import V1Writer
from iot_suitcase.ingest.sink.rejects import RejectStore
from iot_suitcase.ingest.wal.log import Position, WriteAheadLog
from iot_suitcase.servers import InfluxDB

PAYLOAD = b'{"readings": {"temperature": 21.5}}'


class AckRecorder:
    """The broker side of the committer, as a list of the packet ids it acknowledged (the committer is compiled:
    a stand-in of its own, not a subclass of ``NoBroker``)."""

    def __init__(self, acked: list[int]) -> None:
        self.acked = acked

    def ack(self, mid: int, qos: int, generation: int) -> None:
        self.acked.append(mid)

    def flush_acks(self) -> None:
        pass

    def ping(self, through: Position) -> None:
        pass


def http_message(device: str) -> DeviceRequest:
    return DeviceRequest(device, "native", f"POST /v1/devices/{device}/readings", PAYLOAD)


async def make_pipeline(
    data: Path, influxdb: InfluxDB, db: str, *, wal_max_bytes: int = 1 << 20, segment_bytes: int = 16 << 20
) -> tuple[Pipeline, list[int]]:
    data.mkdir(parents=True, exist_ok=True)
    settings = IngestSettings(influx_url=influxdb.url, influx_database=db, data_dir=data)
    writer = V1Writer(settings)
    await writer.start()
    acked: list[int] = []
    pipeline = Pipeline(
        Decoder(DecodeSettings(topic_root="t")),
        writer,
        WriteAheadLog(data / "wal", segment_bytes=segment_bytes),
        RejectStore(data / "rejects.sqlite3"),
        batch_size=100,
        batch_interval_s=0.01,
        wal_max_bytes=wal_max_bytes,
        remember_keys=1000,
        broker=AckRecorder(acked),
    )
    pipeline.open()
    return pipeline, acked


async def run_until(pipeline: Pipeline, done: Callable[[], bool]) -> None:
    tasks = [asyncio.create_task(pipeline.run_committer()), asyncio.create_task(pipeline.run_drainer())]
    try:
        for _ in range(500):
            if done():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("pipeline did not get there")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pipeline.close()


async def test_a_redelivery_after_a_crash_is_acked_not_stored_again(
    tmp_path: Path, influxdb: InfluxDB, influx_db: str
) -> None:
    first, acked = await make_pipeline(tmp_path, influxdb, influx_db)
    first.submit("t/dev-1/up", PAYLOAD, mid=7, qos=1)
    first.submit("t/dev-1/up", b'{"readings": {"temperature": 22}}', mid=8, qos=1)
    await run_until(first, lambda: acked == [7, 8] and influxdb.count(influx_db) == 2)

    # The process dies before the broker saw the acks; it redelivers both with DUP and the same packet ids.
    second, acked_again = await make_pipeline(tmp_path, influxdb, influx_db)
    second.submit("t/dev-1/up", PAYLOAD, mid=7, qos=1, dup=True)
    second.submit("t/dev-1/up", b'{"readings": {"temperature": 22}}', mid=8, qos=1, dup=True)
    # A new message that happens to have the same payload is not a redelivery: no DUP flag.
    second.submit("t/dev-1/up", PAYLOAD, mid=9, qos=1)
    await run_until(second, lambda: acked_again == [7, 8, 9] and influxdb.count(influx_db) == 3)
    assert second.figures().duplicates == 2
    assert second.figures().logged == 1
    assert sorted(p["value"] for p in influxdb.points(influx_db, "temperature")) == [21.5, 21.5, 22.0]


async def test_a_resend_is_recognised_again_after_a_second_crash_before_its_ack_was_processed(
    tmp_path: Path, influxdb: InfluxDB, influx_db: str
) -> None:
    first, acked = await make_pipeline(tmp_path, influxdb, influx_db)
    first.submit("t/dev-8/up", PAYLOAD, mid=7, qos=1)
    await run_until(first, lambda: acked == [7] and influxdb.count(influx_db) == 1)

    # Killed before the broker processed the ack: the next process gets a resend, then new messages.
    second, acked = await make_pipeline(tmp_path, influxdb, influx_db)
    second.connected(1)
    second.submit("t/dev-8/up", PAYLOAD, mid=7, qos=1, dup=True, generation=1)
    second.submit("t/dev-8/up", b'{"readings": {"temperature": 23}}', mid=8, qos=1, generation=1)
    await run_until(second, lambda: acked == [7, 8] and influxdb.count(influx_db) == 2)

    # Killed again before the broker processed the resend's ack: it resends once more.
    third, acked = await make_pipeline(tmp_path, influxdb, influx_db)
    third.connected(1)
    third.submit("t/dev-8/up", PAYLOAD, mid=7, qos=1, dup=True, generation=1)
    await run_until(third, lambda: acked == [7])
    assert (third.figures().duplicates, third.figures().possible_duplicates) == (1, 0)
    assert influxdb.count(influx_db) == 2, "the timestamp-less message is stored once"


async def test_a_dup_flag_alone_is_not_enough_to_drop_a_message(
    tmp_path: Path, influxdb: InfluxDB, influx_db: str
) -> None:
    pipeline, acked = await make_pipeline(tmp_path, influxdb, influx_db)
    # Sent before a crash but never logged: the broker's redelivery is the first copy this log sees.
    pipeline.submit("t/dev-2/up", PAYLOAD, mid=3, qos=1, dup=True)
    await run_until(pipeline, lambda: acked == [3] and influxdb.count(influx_db) == 1)
    assert pipeline.figures().duplicates == 0


async def test_acks_follow_arrival_order_across_rejects_and_points(
    tmp_path: Path, influxdb: InfluxDB, influx_db: str
) -> None:
    pipeline, acked = await make_pipeline(tmp_path, influxdb, influx_db)
    for mid in range(1, 41):
        payload = PAYLOAD if mid % 3 else b"not json"
        pipeline.submit(f"t/dev-{mid % 4}/up", payload, mid=mid, qos=1)
    await run_until(pipeline, lambda: len(acked) == 40)
    assert acked == list(range(1, 41))
    assert pipeline.figures().rejected["malformed_json"] == 13


async def test_an_http_message_the_committer_already_took_is_waited_for_not_answered_503(
    tmp_path: Path, influxdb: InfluxDB, influx_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline, _ = await make_pipeline(tmp_path, influxdb, influx_db)
    wal = pipeline._wal
    append = wal.append

    def slow_append(bodies: Iterable[bytes]) -> Position:
        time.sleep(0.3)  # an fsync that outlasts the HTTP handler's wait
        return append(bodies)

    monkeypatch.setattr(wal, "append", slow_append)
    committer = asyncio.create_task(pipeline.run_committer())
    try:
        entry = await pipeline.submit_request(http_message("dev-3"), timeout=0.05)
        assert entry.taken, "the committer had taken it when the wait timed out"
        assert pipeline.figures().logged == 1, "answered only once logged: a retry would be a duplicate"
    finally:
        committer.cancel()
        await asyncio.gather(committer, return_exceptions=True)
        await pipeline.close()


async def test_an_http_message_not_yet_taken_is_dropped_on_timeout(
    tmp_path: Path, influxdb: InfluxDB, influx_db: str
) -> None:
    pipeline, _ = await make_pipeline(tmp_path, influxdb, influx_db)
    with pytest.raises(TimeoutError):  # no committer runs: the log takes nothing
        await pipeline.submit_request(http_message("dev-4"), timeout=0.05)
    await run_until(pipeline, lambda: pipeline.held == 0)
    assert pipeline.figures().logged == 0, "the client was told 503 and retries: this copy must not be logged"


async def test_a_refused_point_is_split_out_of_a_batch_that_holds_a_mark(
    tmp_path: Path, influxdb: InfluxDB, influx_db: str
) -> None:
    wal = WriteAheadLog(tmp_path / "wal")
    wal.open()
    wal.append_mark(Position(0, 0))  # the log's own note lies in the backlog the drainer reads next
    wal.close()
    influxdb.write(influx_db, "co2,device=legacy value=400i")  # co2's field made an integer by someone else
    pipeline, acked = await make_pipeline(tmp_path, influxdb, influx_db)
    pipeline.submit("t/dev-5/up", b'{"readings": {"co2": 612}}', mid=1, qos=1)
    pipeline.submit("t/dev-5/up", PAYLOAD, mid=2, qos=1)
    committer = asyncio.create_task(pipeline.run_committer())
    try:
        while acked != [1, 2]:  # logged behind the mark before the drainer reads: one batch holds all three
            await asyncio.sleep(0.01)
    finally:
        committer.cancel()
        await asyncio.gather(committer, return_exceptions=True)
    await run_until(pipeline, lambda: pipeline.figures().rejected["unwritable"] == 1 and influxdb.count(influx_db) == 2)
    assert influxdb.points(influx_db, "temperature")[0]["value"] == 21.5


async def test_a_burst_is_logged_in_groups_that_each_fit_one_segment(
    tmp_path: Path, influxdb: InfluxDB, influx_db: str
) -> None:
    pipeline, acked = await make_pipeline(tmp_path, influxdb, influx_db, segment_bytes=4096)
    for mid in range(1, 201):  # all waiting before the committer runs: one burst
        pipeline.submit("t/dev-7/up", PAYLOAD, mid=mid, qos=1)
    await run_until(pipeline, lambda: len(acked) == 200 and pipeline.figures().backlog_records == 0)
    await pipeline.close()
    sizes = [path.stat().st_size for path in (tmp_path / "wal").glob("*.seg")]
    assert len(sizes) > 1, "a burst rotates segments instead of overfilling one"
    assert max(sizes) <= 4096


async def test_a_due_mark_keeps_to_the_logs_size_bound(tmp_path: Path, influxdb: InfluxDB, influx_db: str) -> None:
    probe, _ = await make_pipeline(tmp_path / "probe", influxdb, influx_db)
    record = probe.submit("t/dev-6/up", PAYLOAD, mid=1, qos=1).record
    await probe.close()
    assert record is not None
    bound = 10 * (len(record) + 8) + 10  # ten records fit, and 10 bytes: less than a mark's room
    pipeline, acked = await make_pipeline(tmp_path / "real", influxdb, influx_db, wal_max_bytes=bound)
    pipeline.redeliveries.mark_due = Position(0, 1)  # the broker confirmed acks: a mark goes with the next group
    for mid in range(1, 101):
        pipeline.submit("t/dev-6/up", PAYLOAD, mid=mid, qos=1)
    committer = asyncio.create_task(pipeline.run_committer())  # no drainer: the log fills up
    try:
        while not pipeline.figures().log_full:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # time for a mark written alone, too
    finally:
        committer.cancel()
        await asyncio.gather(committer, return_exceptions=True)
        await pipeline.close()
    assert len(acked) < 100
    assert pipeline.figures().backlog_bytes <= bound, "the log keeps to its bound, marks included"
