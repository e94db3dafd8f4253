"""A segmented write-ahead log on local disk: append with one fsync per group, read back, truncate.

Layout: ``<dir>/<NNNNNNNNNNNN>.seg`` files of records ``u32 length | u32 crc32 | body``, and a
``checkpoint`` file naming the first record InfluxDB has not accepted yet. A crash can leave a torn
record at the end of the last segment; opening the log cuts it off (it was never fsynced, so never acked).

Segments that InfluxDB has accepted are kept while they hold the newest ``keep_records`` records: those
keys let the service recognise the broker's redeliveries after a crash (see records.py).
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from io import BufferedWriter
from pathlib import Path

from ingest.records import record_key

_HEADER = struct.Struct("<II")
_SUFFIX = ".seg"
_READ_BYTES = 4 << 20


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


@dataclass(slots=True)
class _Segment:
    number: int
    size: int
    records: int

    def path(self, directory: Path) -> Path:
        return directory / f"{self.number:012d}{_SUFFIX}"


class WriteAheadLog:
    """Appends are serialised by the caller (one committer); reading and truncation may run alongside."""

    def __init__(self, directory: Path, *, segment_bytes: int = 16 << 20, keep_records: int = 40_000) -> None:
        self.directory = directory
        self._segment_bytes = segment_bytes
        self._keep_records = keep_records
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._checkpoint = Position(1, 0)
        self._read = Position(1, 0)
        self._backlog_bytes = 0
        self._backlog_records = 0
        self._file: BufferedWriter | None = None

    # --- opening and recovery -------------------------------------------------------------------------
    def open(self) -> list[bytes]:
        """Recover the log; return the keys of the newest ``keep_records`` records (oldest first)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        numbers = sorted(int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())
        keys: deque[bytes] = deque(maxlen=self._keep_records)
        for number in numbers:
            path = self.directory / f"{number:012d}{_SUFFIX}"
            size, count = _scan(path, keys)
            if size < path.stat().st_size:  # torn tail from a crash: never fsynced, never acked
                with path.open("r+b") as handle:
                    handle.truncate(size)
            self._segments.append(_Segment(number, size, count))
        if not self._segments:
            self._segments.append(_Segment(1, 0, 0))
            self._segments[0].path(self.directory).touch()
        self._checkpoint = self._load_checkpoint()
        self._read = self._checkpoint
        self._recount_backlog()
        self._open_tail()
        return list(keys)

    def _load_checkpoint(self) -> Position:
        path = self.directory / "checkpoint"
        first = Position(self._segments[0].number, 0)
        if not path.exists():
            return first
        segment, offset = (int(part) for part in path.read_text().split())
        known = {s.number: s for s in self._segments}
        if segment not in known:
            return first if segment < first.segment else Position(self._segments[-1].number, self._segments[-1].size)
        return Position(segment, min(offset, known[segment].size))

    def _recount_backlog(self) -> None:
        size = records = 0
        for segment in self._segments:
            if segment.number > self._checkpoint.segment:
                size += segment.size
                records += segment.records
            elif segment.number == self._checkpoint.segment:
                size += segment.size - self._checkpoint.offset
                records += _count_from(segment.path(self.directory), self._checkpoint.offset)
        self._backlog_bytes, self._backlog_records = size, records

    def _open_tail(self) -> None:
        self._file = self._segments[-1].path(self.directory).open("ab")

    # --- writing --------------------------------------------------------------------------------------
    def append(self, bodies: Iterable[bytes]) -> None:
        """Write records and fsync once: when this returns they survive a crash (group commit)."""
        chunks = []
        count = 0
        for body in bodies:
            chunks.append(_HEADER.pack(len(body), zlib.crc32(body)))
            chunks.append(body)
            count += 1
        if not count:
            return
        data = b"".join(chunks)
        handle = self._tail_file()
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        with self._lock:
            tail = self._segments[-1]
            tail.size += len(data)
            tail.records += count
            self._backlog_bytes += len(data)
            self._backlog_records += count
            if tail.size >= self._segment_bytes:
                self._rotate()

    def _tail_file(self) -> BufferedWriter:
        if self._file is None:
            raise RuntimeError("write-ahead log is not open")
        return self._file

    def _rotate(self) -> None:
        self._tail_file().close()
        segment = _Segment(self._segments[-1].number + 1, 0, 0)
        self._segments.append(segment)
        segment.path(self.directory).touch()
        _fsync_dir(self.directory)
        self._open_tail()

    # --- reading and truncation -----------------------------------------------------------------------
    @property
    def backlog_bytes(self) -> int:
        return self._backlog_bytes

    @property
    def backlog_records(self) -> int:
        return self._backlog_records

    def read(self, max_records: int) -> tuple[list[bytes], Position]:
        """Records after the read position (up to what is durable), and the position after them."""
        with self._lock:
            segments = [(s.number, s.size) for s in self._segments if s.number >= self._read.segment]
        records: list[bytes] = []
        position = self._read
        for number, size in segments:
            if number > position.segment:
                position = Position(number, 0)
            if position.offset >= size:
                continue
            path = self.directory / f"{number:012d}{_SUFFIX}"
            position = Position(number, _read_records(path, position.offset, size, records, max_records))
            if len(records) >= max_records:
                break
        self._read = position
        return records, position

    def commit(self, position: Position, records: int) -> None:
        """Everything before ``position`` is in InfluxDB: advance the checkpoint, drop old segments."""
        with self._lock:
            before = self._checkpoint
            self._checkpoint = position
            self._backlog_records -= records
            self._backlog_bytes -= _distance(self._segments, before, position)
            self._save_checkpoint()
            self._drop_segments()

    def _save_checkpoint(self) -> None:
        path = self.directory / "checkpoint"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(f"{self._checkpoint.segment} {self._checkpoint.offset}\n")
        os.replace(temporary, path)

    def _drop_segments(self) -> None:
        while len(self._segments) > 1 and self._segments[0].number < self._checkpoint.segment:
            newer = sum(s.records for s in self._segments[1:])
            if newer < self._keep_records:
                return
            oldest = self._segments.pop(0)
            oldest.path(self.directory).unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self._tail_file().close()
            self._file = None


def _scan(path: Path, keys: deque[bytes]) -> tuple[int, int]:
    """Size of the valid prefix of a segment and its record count; collects record keys."""
    data = path.read_bytes()
    offset = count = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        end = offset + _HEADER.size + length
        if end > len(data):
            break
        body = data[offset + _HEADER.size : end]
        if zlib.crc32(body) != crc:
            break
        keys.append(record_key(body))
        offset = end
        count += 1
    return offset, count


def _read_records(path: Path, offset: int, size: int, records: list[bytes], max_records: int) -> int:
    """Append the records of ``path`` between ``offset`` and ``size`` to ``records`` (up to ``max_records``
    in all); return the offset after the last one taken.

    Reads megabytes at a time: each read lets go of the GIL, and a thread that wants it back waits for the
    event loop's switch interval (5 ms), so reading record by record starved the drainer while the intake
    was busy.
    """
    with path.open("rb", buffering=0) as handle:
        need = _READ_BYTES
        while offset < size and len(records) < max_records:
            handle.seek(offset)
            requested = min(size - offset, max(need, _READ_BYTES))
            data = handle.read(requested)
            start = 0
            while len(records) < max_records and start + _HEADER.size <= len(data):
                length, _crc = _HEADER.unpack_from(data, start)
                end = start + _HEADER.size + length
                if end > len(data):
                    break
                records.append(data[start + _HEADER.size : end])
                start = end
            if start == 0 and len(records) < max_records:
                if len(data) < requested or requested == size - offset:
                    break  # the durable part ends inside a record (never written so): nothing more to take
                # a record (or header) longer than one read: read it whole next time
                need = _HEADER.size + (_HEADER.unpack_from(data)[0] if len(data) >= _HEADER.size else 0)
            offset += start
    return offset


def _count_from(path: Path, start: int) -> int:
    data = path.read_bytes()
    offset, count = start, 0
    while offset + _HEADER.size <= len(data):
        length, _crc = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size + length
        count += 1
    return count


def _distance(segments: list[_Segment], start: Position, end: Position) -> int:
    sizes = {s.number: s.size for s in segments}
    if start.segment == end.segment:
        return end.offset - start.offset
    total = sizes.get(start.segment, 0) - start.offset
    total += sum(size for number, size in sizes.items() if start.segment < number < end.segment)
    return total + end.offset


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
