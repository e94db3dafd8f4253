"""The write-ahead log on a real disk: durability boundaries, torn tails, truncation, retained keys."""

from __future__ import annotations

import calendar
import contextlib
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.ingest.sink.points import time_ns
from iot_suitcase.ingest.wal.log import WriteAheadLog
from iot_suitcase.ingest.wal.records import decode_record, message_key, points_record, record_key

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def record(n: int) -> bytes:
    return points_record(
        message_key("t/d/up", str(n).encode(), n), "t/d/up", str(n).encode(), NOW, [f"m v={n}"], bookkeeping=[]
    )


def test_records_read_back_in_order_and_survive_reopening(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=1000)
    wal.open()
    for n in range(30):
        wal.append([record(n)])
    assert wal.backlog_records == 30
    wal.close()
    again = WriteAheadLog(tmp_path, segment_bytes=1000)
    recovery = again.open()
    assert len(list(tmp_path.glob("*.seg"))) > 1, "small segments must have rotated"
    assert [logged.key for logged in recovery.records] == [record_key(record(n)) for n in range(30)]
    assert not recovery.damaged
    assert not recovery.torn_tail
    bodies, _position = again.read(100)
    assert [decode_record(b).lines for b in bodies] == [[f"m v={n}"] for n in range(30)]


def test_a_segment_outgrows_its_size_only_by_a_group_larger_than_a_segment(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=1000)
    wal.open()
    for size in (1, 3, 7, 2, 9, 1, 5):  # groups of several records, as under load
        wal.append([record(n) for n in range(size)])
    big = [record(n) for n in range(30)]
    wal.append(big)  # a single group larger than a whole segment
    wal.close()
    sizes = sorted(path.stat().st_size for path in tmp_path.glob("*.seg"))
    assert sizes[-1] == sum(len(body) + 8 for body in big) > 1000, "such a group gets a segment of its own"
    assert all(size <= 1000 for size in sizes[:-1]), sizes


def test_commit_truncates_and_backlog_counts_only_what_is_left(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=1000)
    wal.open()
    for n in range(40):
        wal.append([record(n)])
    first, position = wal.read(25)
    wal.commit(position, len(first))
    assert wal.backlog_records == 15
    rest, end = wal.read(100)
    assert [decode_record(b).lines[0] for b in rest] == [f"m v={n}" for n in range(25, 40)]
    wal.commit(end, len(rest))
    assert (wal.backlog_records, wal.backlog_bytes) == (0, 0)
    wal.close()
    reopened = WriteAheadLog(tmp_path, segment_bytes=1000)
    recovery = reopened.open()
    assert reopened.backlog_records == 0, "the checkpoint must survive a restart"
    assert reopened.read(100)[0] == []
    assert recovery.records[-1].key == record_key(record(39))
    segments = len(list(tmp_path.glob("*.seg")))
    assert segments > 1, "segments that redelivery recognition may still need are kept"
    reopened.release(reopened.end)
    assert len(list(tmp_path.glob("*.seg"))) == 1, "drained and released: only the tail segment is left"


def test_a_torn_tail_is_cut_off_and_appending_goes_on(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.open()
    wal.append([record(1), record(2)])
    wal.close()
    segment = next(tmp_path.glob("*.seg"))
    whole = segment.stat().st_size
    with segment.open("ab") as handle:  # a crash in the middle of writing the next group
        handle.write(b"\x40\x00\x00\x00\x12\x34")
    again = WriteAheadLog(tmp_path)
    recovery = again.open()
    assert len(recovery.records) == 2
    assert recovery.torn_tail == 6
    assert segment.stat().st_size == whole
    again.append([record(3)])
    assert [decode_record(b).lines[0] for b in again.read(10)[0]] == ["m v=1", "m v=2", "m v=3"]


def test_a_bad_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.open()
    wal.append([record(1), record(2), record(3)])
    wal.close()
    segment = next(tmp_path.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF  # a flipped bit in the last record fails its CRC
    segment.write_bytes(bytes(data))
    again = WriteAheadLog(tmp_path)
    recovery = again.open()
    assert len(recovery.records) == 2
    assert recovery.torn_tail > 0
    assert not recovery.damaged
    assert again.backlog_records == 2


def test_a_message_without_readings_round_trips_as_no_lines() -> None:
    body = points_record(
        message_key("t", b"x", 1), "t", b"x", NOW, [], bookkeeping=["suitcase_uplinks,device=d readings=0 1"]
    )
    assert decode_record(body).lines == []
    assert decode_record(body).bookkeeping == ["suitcase_uplinks,device=d readings=0 1"]


def test_time_ns_is_exact_and_agrees_with_calendar() -> None:
    for moment in (NOW, datetime(2026, 11, 22, 10, 15, 0, 999_999, tzinfo=UTC), datetime(2000, 1, 1, tzinfo=UTC)):
        assert time_ns(moment) == calendar.timegm(moment.utctimetuple()) * 10**9 + moment.microsecond * 1000


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.binary(max_size=300), min_size=1, max_size=40),
    st.integers(1, 200),
    st.integers(1, 12),
    st.integers(200, 3000),
)
def test_reading_in_chunks_returns_every_record_once_in_order(
    bodies: list[bytes], chunk: int, batch: int, segment_bytes: int
) -> None:
    """Records straddling the reads, longer than one read, across segments: read back exactly as written."""
    with tempfile.TemporaryDirectory() as directory, patch("iot_suitcase.ingest.wal.log._READ_BYTES", chunk):
        wal = WriteAheadLog(Path(directory), segment_bytes=segment_bytes)
        wal.open()
        for start in range(0, len(bodies), 7):
            wal.append(bodies[start : start + 7])
        got: list[bytes] = []
        while True:
            records, position = wal.read(batch)
            if not records:
                break
            assert len(records) <= batch
            got += records
            wal.commit(position, len(records))
        wal.close()
    assert got == bodies
    assert wal.backlog_records == 0


# --- #13 point 4: the log's own integrity --------------------------------------------------------------------


def three_segments(directory: Path) -> list[Path]:
    wal = WriteAheadLog(directory, segment_bytes=300)
    wal.open()
    for n in range(18):
        wal.append([record(n)])
    wal.close()
    segments = sorted(directory.glob("*.seg"))
    assert len(segments) >= 3
    return segments


def test_damage_in_a_middle_segment_is_reported_and_the_records_after_it_are_recovered(tmp_path: Path) -> None:
    segments = three_segments(tmp_path)
    middle = segments[1]
    data = bytearray(middle.read_bytes())
    data[20] ^= 0xFF  # inside the first record's body: its CRC fails
    middle.write_bytes(bytes(data))
    wal = WriteAheadLog(tmp_path, segment_bytes=300)
    recovery = wal.open()
    assert len(recovery.damaged) == 1
    damage = recovery.damaged[0]
    assert (damage.segment, damage.offset) == (int(middle.stem), 0)
    assert damage.saved_to is not None
    assert damage.saved_to.read_bytes() == bytes(data[: damage.length])
    values = [decode_record(b).lines[0] for b in wal.read(100)[0]]
    lost = {f"m v={n}" for n in range(18)} - set(values)
    assert len(lost) == 1, "exactly the damaged record is missing"
    assert values[-1] == "m v=17", "every record after the damage is recovered"
    assert wal.backlog_records == 17
    assert not recovery.torn_tail


def test_a_damaged_length_field_does_not_swallow_the_records_after_it(tmp_path: Path) -> None:
    segments = three_segments(tmp_path)
    data = bytearray(segments[0].read_bytes())
    data[0:4] = (10**6).to_bytes(4, "little")  # the first record claims to be a megabyte long
    segments[0].write_bytes(bytes(data))
    wal = WriteAheadLog(tmp_path, segment_bytes=300)
    recovery = wal.open()
    assert [d.segment for d in recovery.damaged] == [int(segments[0].stem)]
    assert len(wal.read(100)[0]) == 17


def test_an_empty_or_half_checkpoint_replays_the_log_instead_of_refusing(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=300)
    wal.open()
    for n in range(10):
        wal.append([record(n)])
    bodies, position = wal.read(6)
    wal.commit(position, len(bodies))
    wal.close()
    checkpoint = tmp_path / "checkpoint"
    assert not list(tmp_path.glob("*.tmp")), "written through a temporary file that is renamed"
    for broken in ("", "1 "):
        checkpoint.write_text(broken)
        again = WriteAheadLog(tmp_path, segment_bytes=300)
        recovery = again.open()
        assert recovery.checkpoint_unreadable
        assert len(again.read(100)[0]) == 10, "everything is replayed: InfluxDB overwrites what it has"
        again.close()


def test_a_failed_write_leaves_the_log_as_it_was_and_the_next_one_works(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.open()
    wal.append([record(1)])
    size = next(tmp_path.glob("*.seg")).stat().st_size
    for errno in (28, 5, 30):  # ENOSPC, EIO, EROFS
        with (
            patch("iot_suitcase.ingest.wal.log.os.fsync", side_effect=OSError(errno, os.strerror(errno))),
            pytest.raises(OSError, match=os.strerror(errno)),
        ):
            wal.append([record(2), record(3)])
        assert next(tmp_path.glob("*.seg")).stat().st_size == size, "nothing of the failed group stays"
        assert wal.backlog_records == 1
    wal.append([record(2)])
    wal.close()
    again = WriteAheadLog(tmp_path)
    assert [r.key for r in again.open().records] == [record_key(record(1)), record_key(record(2))]


class _MeetingLock:
    """A lock at which two threads first meet: the worst interleaving, every time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._meeting = threading.Barrier(2, timeout=0.5)

    def __enter__(self) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            self._meeting.wait()
        self._lock.acquire()

    def __exit__(self, *_exc: object) -> None:
        self._lock.release()


def test_two_threads_dropping_segments_at_once_never_take_the_tail(tmp_path: Path) -> None:
    """The committer releases and the drainer commits from different threads: both may drop segments."""
    wal = WriteAheadLog(tmp_path, segment_bytes=1000)
    wal.open()
    n = 0
    while len(list(tmp_path.glob("*.seg"))) < 2:
        wal.append([record(n)])
        n += 1
    records, end = wal.read(1000)
    wal.commit(end, len(records))
    segments = len(list(tmp_path.glob("*.seg")))
    assert segments == 2, "one full segment and the tail"
    wal._lock = _MeetingLock()  # type: ignore[assignment]
    wal._released = end  # both threads see the first segment as droppable
    threads = [threading.Thread(target=wal.drop_segments) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wal.end == end, "the tail segment is still there"
    assert len(list(tmp_path.glob("*.seg"))) == 1
    wal.append([record(99)])
