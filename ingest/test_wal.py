"""The write-ahead log on a real disk: durability boundaries, torn tails, truncation, retained keys."""

from __future__ import annotations

import calendar
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.points import time_ns
from ingest.records import decode_record, message_key, points_record, record_key
from ingest.wal import WriteAheadLog

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def record(n: int) -> bytes:
    return points_record(
        message_key("t/d/up", str(n).encode(), n), "t/d/up", str(n).encode(), NOW, [f"m v={n}"], bookkeeping=[]
    )


def test_records_read_back_in_order_and_survive_reopening(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=1000)
    wal.open()
    wal.append(record(n) for n in range(30))
    assert wal.backlog_records == 30
    wal.close()
    again = WriteAheadLog(tmp_path, segment_bytes=1000)
    keys = again.open()
    assert len(list(tmp_path.glob("*.seg"))) > 1, "small segments must have rotated"
    assert keys == [record_key(record(n)) for n in range(30)]
    bodies, _position = again.read(100)
    assert [decode_record(b).lines for b in bodies] == [[f"m v={n}"] for n in range(30)]


def test_commit_truncates_and_backlog_counts_only_what_is_left(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path, segment_bytes=1000, keep_records=5)
    wal.open()
    wal.append(record(n) for n in range(40))
    first, position = wal.read(25)
    wal.commit(position, len(first))
    assert wal.backlog_records == 15
    rest, end = wal.read(100)
    assert [decode_record(b).lines[0] for b in rest] == [f"m v={n}" for n in range(25, 40)]
    wal.commit(end, len(rest))
    assert (wal.backlog_records, wal.backlog_bytes) == (0, 0)
    wal.close()
    reopened = WriteAheadLog(tmp_path, segment_bytes=1000, keep_records=5)
    keys = reopened.open()
    assert reopened.backlog_records == 0, "the checkpoint must survive a restart"
    assert reopened.read(100)[0] == []
    assert keys[-5:] == [record_key(record(n)) for n in range(35, 40)], "the newest keys are kept for dedupe"
    assert len(list(tmp_path.glob("*.seg"))) < 10, "written segments beyond the kept keys are deleted"


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
    assert len(again.open()) == 2
    assert segment.stat().st_size == whole
    again.append([record(3)])
    assert [decode_record(b).lines[0] for b in again.read(10)[0]] == ["m v=1", "m v=2", "m v=3"]


def test_a_corrupt_record_ends_the_valid_log(tmp_path: Path) -> None:
    wal = WriteAheadLog(tmp_path)
    wal.open()
    wal.append([record(1), record(2), record(3)])
    wal.close()
    segment = next(tmp_path.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF  # a flipped bit in the last record fails its CRC
    segment.write_bytes(bytes(data))
    again = WriteAheadLog(tmp_path)
    assert len(again.open()) == 2
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
    with tempfile.TemporaryDirectory() as directory, patch("ingest.wal._READ_BYTES", chunk):
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
