"""A segmented write-ahead log on local disk: append with one fsync per group, read back, truncate.

Layout: ``<dir>/<NNNNNNNNNNNN>.seg`` files of records ``u32 length | u32 crc32 | body``, and a
``checkpoint`` file naming the first record InfluxDB has not accepted yet (written atomically: temp file,
fsync, rename, fsync of the directory).

What a crash or a bad disk can leave, and what opening the log does about it:

- a torn tail: the last record of the last segment half written (it was never fsynced, so never acked):
  cut off, with a log line;
- damage anywhere else (a flipped bit in a segment the disk returned wrong): the damaged bytes are reported
  with their segment and offset and kept aside in ``damaged/``; the records after them are recovered;
- an unreadable checkpoint: the log is replayed from its first segment (InfluxDB overwrites what it has).

A write or fsync that fails (disk full, I/O error, read-only file system) raises ``OSError`` and leaves
the log as it was before the call: the caller keeps the records and tries again later.

``MARK`` records note how far the broker is known to have processed the service's acknowledgements (see
redelivery.py); segments are deleted once InfluxDB has their records and they are behind the latest mark,
so a healthy service's log stays near one segment.
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from iot_suitcase.ingest.wal.records import MARK, is_idempotent, mark_position, mark_record, record_key, well_formed

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<II")
_SUFFIX = ".seg"
_READ_BYTES = 4 << 20
_MAX_RECORD = 64 << 20  # far above any record (payloads are capped); a larger length is damage


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class Damage:
    """Bytes of a segment that hold no readable record."""

    segment: int
    offset: int
    length: int
    saved_to: Path | None = None

    def __str__(self) -> str:
        saved = f", saved to {self.saved_to}" if self.saved_to else ""
        return f"segment {self.segment:012d} offset {self.offset}: {self.length} bytes{saved}"


@dataclass(frozen=True, slots=True)
class Logged:
    """A record found when the log was opened: its key and the position after it."""

    key: bytes
    end: Position
    idempotent: bool = False  # an HTTP message with an Idempotency-Key


@dataclass(slots=True)
class Recovery:
    """What opening the log found."""

    records: list[Logged] = field(default_factory=list)  # every record, oldest first
    mark: Position | None = None  # the newest MARK: acks of records before it were processed by the broker
    damaged: list[Damage] = field(default_factory=list)  # damage before the checkpoint is harmless
    torn_tail: int = 0  # bytes cut off the last segment
    checkpoint_unreadable: bool = False


@dataclass(slots=True)
class _Segment:
    number: int
    size: int
    records: int

    def path(self, directory: Path) -> Path:
        return directory / f"{self.number:012d}{_SUFFIX}"


class WriteAheadLog:
    """Appends are serialised by the caller (one committer); reading and truncation may run alongside."""

    def __init__(self, directory: Path, *, segment_bytes: int = 16 << 20) -> None:
        self.directory = directory
        self._segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._checkpoint = Position(1, 0)
        self._read = Position(1, 0)
        self._released = Position(0, 0)  # records before this need no redelivery recognition any more
        self._skips: dict[int, dict[int, int]] = {}  # segment -> damaged span start -> its end
        self._ends: dict[int, list[int]] = {}  # while opening: segment -> end offsets of its records
        self._backlog_bytes = 0
        self._backlog_records = 0
        self._fd: int | None = None

    # --- opening and recovery -------------------------------------------------------------------------
    def open(self) -> Recovery:
        """Recover the log: every record's key and position, the newest mark, and what was damaged."""
        self.directory.mkdir(parents=True, exist_ok=True)
        numbers = sorted(int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())
        recovery = Recovery()
        for index, number in enumerate(numbers):
            path = self.directory / f"{number:012d}{_SUFFIX}"
            last = index == len(numbers) - 1
            self._segments.append(self._recover_segment(number, path, last, recovery))
        if not self._segments:
            self._segments.append(_Segment(1, 0, 0))
            self._segments[0].path(self.directory).touch()
        self._checkpoint = self._load_checkpoint(recovery)
        self._read = self._checkpoint
        self._released = recovery.mark or Position(0, 0)
        self._recount_backlog()
        self._ends.clear()
        self._open_tail()
        for damage in recovery.damaged:
            if Position(damage.segment, damage.offset) < self._checkpoint:
                log.warning("write-ahead log damage in records InfluxDB already has %s", damage)
            else:
                log.error(
                    "write-ahead log damage: these bytes held no readable record and are not replayed; the "
                    "records after them are %s",
                    damage,
                )
        return recovery

    def _recover_segment(self, number: int, path: Path, last: bool, recovery: Recovery) -> _Segment:
        data = path.read_bytes()
        offset = count = 0
        ends = self._ends[number] = []
        while offset < len(data):
            end = _record_end(data, offset)
            if end is not None:
                body = data[offset + _HEADER.size : end]
                position = Position(number, end)
                if body[0] == MARK:
                    recovery.mark = mark_position(body, Position)
                else:
                    recovery.records.append(Logged(record_key(body), position, is_idempotent(body)))
                offset = end
                ends.append(end)
                count += 1
                continue
            resume = _next_record(data, offset + 1)
            if resume is None and last:  # a torn tail: never fsynced, so never acknowledged
                recovery.torn_tail = len(data) - offset
                log.warning(
                    "cut a torn record off the end of the write-ahead log segment=%012d offset=%d bytes=%d",
                    number,
                    offset,
                    len(data) - offset,
                )
                with path.open("r+b") as handle:
                    handle.truncate(offset)
                    os.fsync(handle.fileno())
                return _Segment(number, offset, count)
            stop = len(data) if resume is None else resume
            recovery.damaged.append(self._keep_damaged(number, offset, data[offset:stop]))
            self._skips.setdefault(number, {})[offset] = stop
            offset = stop
        return _Segment(number, len(data), count)

    def _keep_damaged(self, segment: int, offset: int, data: bytes) -> Damage:
        target = self.directory / "damaged" / f"{segment:012d}-{offset}.bin"
        try:
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(data)
        except OSError as error:
            log.error("could not keep damaged log bytes error=%s", error)
            return Damage(segment, offset, len(data))
        return Damage(segment, offset, len(data), target)

    def _load_checkpoint(self, recovery: Recovery) -> Position:
        path = self.directory / "checkpoint"
        first = Position(self._segments[0].number, 0)
        if not path.exists():
            return first
        try:
            segment, offset = (int(part) for part in path.read_text().split())
        except (ValueError, OSError) as error:
            recovery.checkpoint_unreadable = True
            log.warning(
                "the write-ahead log's checkpoint is unreadable (%s): replaying the log from segment %d; "
                "InfluxDB overwrites the points it already has",
                error,
                first.segment,
            )
            return first
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
                ends = self._ends.get(segment.number, [])
                records += len(ends) - bisect.bisect_right(ends, self._checkpoint.offset)
        self._backlog_bytes, self._backlog_records = size, records

    def _open_tail(self) -> None:
        self._fd = os.open(self._segments[-1].path(self.directory), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    # --- writing --------------------------------------------------------------------------------------
    def append(self, bodies: Iterable[bytes]) -> Position:
        """Write records and fsync once: when this returns they survive a crash (group commit).

        Returns the position after the last record. On ``OSError`` nothing of this call stays in the log.
        """
        chunks = []
        count = 0
        for body in bodies:
            chunks.append(_HEADER.pack(len(body), zlib.crc32(body)))
            chunks.append(body)
            count += 1
        if not count:
            return self.end
        data = b"".join(chunks)
        size = self._segments[-1].size
        if size and size + len(data) > self._segment_bytes:
            self._rotate()  # a segment outgrows its size only by a group larger than a whole segment
        fd = self._tail_fd()
        tail = self._segments[-1]
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError:
            self._undo(tail.size)
            raise
        with self._lock:
            tail.size += len(data)
            tail.records += count
            self._backlog_bytes += len(data)
            self._backlog_records += count
            return Position(tail.number, tail.size)

    def append_mark(self, position: Position) -> Position:
        """Note durably that no record before ``position`` needs redelivery recognition any more."""
        return self.append([mark_record(position.segment, position.offset)])

    def release(self, position: Position) -> None:
        """Records before ``position`` need no redelivery recognition: their segments may go once drained."""
        self._released = max(self._released, position)
        self.drop_segments()

    def _undo(self, size: int) -> None:
        """Cut what a failed append may have left; if even that fails, reopen the tail on the next append."""
        try:
            os.ftruncate(self._tail_fd(), size)
            os.fsync(self._tail_fd())
        except OSError as error:
            log.debug("could not cut a failed append yet error=%s", error)
            self._close_tail()

    def _tail_fd(self) -> int:
        if self._fd is None:
            tail = self._segments[-1]
            path = tail.path(self.directory)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.ftruncate(fd, tail.size)  # whatever a failed append left behind
            except OSError:
                os.close(fd)
                raise
            self._fd = fd
        return self._fd

    def _rotate(self) -> None:
        segment = _Segment(self._segments[-1].number + 1, 0, 0)
        fd = os.open(segment.path(self.directory), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _fsync_dir(self.directory)
        except OSError:
            os.close(fd)
            raise
        self._close_tail()
        with self._lock:
            self._segments.append(segment)
        self._fd = fd

    @property
    def end(self) -> Position:
        tail = self._segments[-1]
        return Position(tail.number, tail.size)

    # --- reading and truncation -----------------------------------------------------------------------
    @property
    def backlog_bytes(self) -> int:
        return self._backlog_bytes

    @property
    def backlog_records(self) -> int:
        return self._backlog_records

    @property
    def segment_bytes(self) -> int:
        """Size a segment is rotated at (a larger single append gets a segment of its own)."""
        return self._segment_bytes

    @property
    def segments(self) -> int:
        return len(self._segments)

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
            skips = self._skips.get(number, {})
            position = Position(number, _read_records(path, position.offset, size, records, max_records, skips))
            if len(records) >= max_records:
                break
        self._read = position
        return records, position

    def commit(self, position: Position, records: int) -> None:
        """Everything before ``position`` is in InfluxDB: advance the checkpoint, drop old segments.

        Raises ``OSError`` (and changes nothing) if the checkpoint cannot be written: call again later.
        """
        with self._lock:
            self._save_checkpoint(position)
            before = self._checkpoint
            self._checkpoint = position
            self._backlog_records -= records
            self._backlog_bytes -= _distance(self._segments, before, position)
        self.drop_segments()

    def rewind(self) -> None:
        """Read again from the checkpoint (records read but not committed, after a failure)."""
        self._read = self._checkpoint

    def _save_checkpoint(self, position: Position) -> None:
        path = self.directory / "checkpoint"
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, f"{position.segment} {position.offset}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
        _fsync_dir(self.directory)

    def drop_segments(self) -> None:
        """Delete segments whose records InfluxDB has and which lie wholly behind the latest mark."""
        keep_from = min(self._checkpoint, self._released)
        while True:
            with self._lock:  # looked at and taken under one lock: two threads dropping at once never take the tail
                if len(self._segments) <= 1 or self._segments[0].number >= keep_from.segment:
                    return
                oldest = self._segments.pop(0)
            try:
                oldest.path(self.directory).unlink(missing_ok=True)
            except OSError as error:
                log.warning("could not delete a drained log segment segment=%d error=%s", oldest.number, error)

    def _close_tail(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError as error:
                log.debug("closing the log's tail failed error=%s", error)

    def close(self) -> None:
        self._close_tail()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _record_end(data: bytes, offset: int) -> int | None:
    """The end of a whole, well-formed record with a good CRC at ``offset``, else None."""
    if offset + _HEADER.size > len(data):
        return None
    length, crc = _HEADER.unpack_from(data, offset)
    end: int = offset + _HEADER.size + length
    if length == 0 or length > _MAX_RECORD or end > len(data):
        return None
    body = data[offset + _HEADER.size : end]
    if not well_formed(body) or zlib.crc32(body) != crc:
        return None
    return end


def _next_record(data: bytes, start: int) -> int | None:
    """The first offset at or after ``start`` where a chain of good records runs to the end of ``data``
    or on for at least two records (one good CRC by chance is possible, two in a row is not)."""
    for offset in range(start, len(data) - _HEADER.size + 1):
        end = _record_end(data, offset)
        if end is not None and (end == len(data) or _record_end(data, end) is not None):
            return offset
    return None


def _read_records(  # noqa: PLR0917 - one call site, all of it the read's state
    path: Path, offset: int, size: int, records: list[bytes], max_records: int, skips: dict[int, int]
) -> int:
    """Append the records of ``path`` between ``offset`` and ``size`` to ``records`` (up to ``max_records``
    in all); return the offset after the last one taken. ``skips``: damaged spans found when the log was
    opened (start -> end), stepped over.

    Reads megabytes at a time: each read lets go of the GIL, and a thread that wants it back waits for the
    event loop's switch interval (5 ms), so reading record by record starved the drainer while the intake
    was busy.
    """
    with path.open("rb", buffering=0) as handle:
        need = _READ_BYTES
        while offset < size and len(records) < max_records:
            if offset in skips:
                offset = skips[offset]
                continue
            handle.seek(offset)
            requested = min(size - offset, max(need, _READ_BYTES))
            data = handle.read(requested)
            start = 0
            while len(records) < max_records and start + _HEADER.size <= len(data) and offset + start not in skips:
                length, _crc = _HEADER.unpack_from(data, start)
                end = start + _HEADER.size + length
                if end > len(data):
                    break
                records.append(data[start + _HEADER.size : end])
                start = end
            if start == 0 and len(records) < max_records and offset not in skips:
                if len(data) < requested or requested == size - offset:
                    break  # the durable part ends inside a record (never written so): nothing more to take
                # a record (or header) longer than one read: read it whole next time
                need = _HEADER.size + (_HEADER.unpack_from(data)[0] if len(data) >= _HEADER.size else 0)
            offset += start
    return offset


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
