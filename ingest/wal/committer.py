"""The second stage: waiting messages go into the write-ahead log with one fsync per group, and are then
acknowledged in arrival order.

When the log is at its size bound the committer stops, so acks stop and the broker (MQTT v5 Receive
Maximum) stops sending: nothing is dropped to make room. When the log cannot be written (disk full, I/O
error, read-only) it stops too, says so once, and tries again until it can.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Protocol

from iot_suitcase.ingest.wal.log import Position, WriteAheadLog
from iot_suitcase.ingest.wal.records import Reject, mark_record
from iot_suitcase.ingest.wal.redelivery import Redeliveries
from iot_suitcase.ingest.wal.waiting import Entry, Waiting

log = logging.getLogger(__name__)

_RETRY_START_S = 0.2
_LOG_RETRY_MAX_S = 5.0  # a disk that is full again has room once someone frees it: look often
_MARK_LINGER_S = 0.1
_MARK_BYTES = len(mark_record(0, 0)) + 8  # with the log's framing, as _take_group counts records


class Acknowledger(Protocol):
    """The broker side of the committer (the MQTT consumer): acks, sent as one write, and a ping that
    confirms them."""

    def ack(self, mid: int, qos: int, generation: int, /) -> None: ...

    def flush_acks(self) -> None: ...

    def ping(self, through: Position, /) -> None: ...


class NoBroker:
    """For messages that have no broker behind them (HTTP only, tests): nothing to acknowledge."""

    def ack(self, mid: int, qos: int, generation: int) -> None:
        pass

    def flush_acks(self) -> None:
        pass

    def ping(self, through: Position) -> None:
        pass


class RejectsShown(Protocol):
    """Where logged rejects become visible at once (the rejects store; the drainer adds them again)."""

    def add(self, rejects: Iterable[tuple[bytes, Reject]], /) -> object: ...


@dataclass(slots=True)
class LogFigures:
    logged: int = 0
    acked: int = 0
    log_full: bool = False
    log_error: str | None = None  # the log cannot be written (disk full, I/O error, read-only)
    log_damage: list[str] = field(default_factory=list)  # what opening the log found damaged


class Committer:
    """Writes waiting entries to the log in groups and acknowledges them (see the module docstring)."""

    def __init__(
        self,
        waiting: Waiting,
        wal: WriteAheadLog,
        *,
        redeliveries: Redeliveries,
        broker: Acknowledger,
        rejects: RejectsShown,
        io: Executor,
        max_bytes: int,
        logged: Callable[[], None],
    ) -> None:
        self._waiting = waiting
        self._wal = wal
        self._redeliveries = redeliveries
        self._broker = broker
        self._rejects = rejects
        self._io = io
        self._max_bytes = max_bytes
        self._logged = logged  # wakes the drainer
        self._space = asyncio.Event()
        self._mark_written = Position(0, 0)
        self.figures = LogFigures()

    def recovered(self, mark: Position | None) -> None:
        self._mark_written = mark or Position(0, 0)

    def room_freed(self) -> None:
        """The drainer truncated the log: a committer waiting at the bound goes on."""
        self._space.set()

    def pong(self, through: Position) -> None:
        """The broker answered our PINGREQ: every ack sent before ``through`` was processed."""
        again = self._redeliveries.pong(through)
        if again is not None:
            self._broker.ping(again)
        self._wal.release(self._redeliveries.released)
        if self._redeliveries.mark_due is not None:
            self._waiting.arrived.set()  # the committer writes the mark (with the next group, or alone)

    async def run(self) -> None:
        delay = _RETRY_START_S
        waiting = self._waiting
        figures = self.figures
        while True:
            if not waiting.entries:
                waiting.idle.set()
                waiting.arrived.clear()
                if self._mark_bytes() and not figures.log_error and self._mark_fits():
                    await self._write_mark_when_quiet()
                    continue
                await waiting.arrived.wait()
                continue
            waiting.idle.clear()
            group = self._take_group()
            if not group:
                if not figures.log_full:
                    log.warning(
                        "write-ahead log is full: not acknowledging until InfluxDB catches up backlog_bytes=%d held=%d",
                        self._wal.backlog_bytes,
                        len(waiting),
                    )
                figures.log_full = True
                waiting.idle.set()
                self._space.clear()
                await self._space.wait()
                continue
            if figures.log_full:
                log.info("write-ahead log has room again: acknowledging")
            figures.log_full = False
            try:
                await self._commit(group)
            except OSError as error:
                waiting.put_back(group)
                self._log_failed(error)
                waiting.idle.set()  # nothing is being written: a shutdown need not wait for it
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LOG_RETRY_MAX_S)
                continue
            delay = _RETRY_START_S
            if figures.log_error is not None:
                log.info("the write-ahead log can be written again: acknowledging")
                figures.log_error = None

    async def _commit(self, group: list[Entry]) -> None:
        """Log a group (with a mark that is due), acknowledge it in arrival order, tell the HTTP waiters."""
        records = [entry.record for entry in group if entry.record is not None]
        redeliveries = self._redeliveries
        mark = redeliveries.mark_due
        if mark is not None and mark > self._mark_written:
            records.insert(0, mark_record(mark.segment, mark.offset))
        rejects = [(entry.key, entry.reject) for entry in group if entry.reject is not None]
        start = self._wal.end
        end = await asyncio.get_running_loop().run_in_executor(self._io, self._persist, records, rejects)
        if mark is not None and mark > self._mark_written:
            self._mark_written = mark
            redeliveries.mark_written(mark)
        redeliveries.logged(start, end, [(e.key, e.generation) for e in group if e.qos and e.record])
        broker = self._broker
        for entry in group:
            broker.ack(entry.mid, entry.qos, entry.generation)
            if entry.record is None and entry.qos:
                redeliveries.resend_acked(entry.key, end)
            if entry.committed is not None and not entry.committed.done():
                entry.committed.set_result(None)
        broker.flush_acks()
        if any(entry.qos for entry in group):
            ping = redeliveries.acks_sent(end)
            if ping is not None:
                broker.ping(ping)
        self._wal.release(redeliveries.released)
        self.figures.logged += len(records)
        self.figures.acked += len(group)
        self._logged()

    async def _write_mark_when_quiet(self) -> None:
        """A due mark goes with the next group; if none comes soon, alone (one small append)."""
        try:
            await asyncio.wait_for(self._waiting.arrived.wait(), _MARK_LINGER_S)
            return
        except TimeoutError:
            pass
        mark = self._redeliveries.mark_due
        if mark is None or mark <= self._mark_written:
            self._redeliveries.mark_due = None
            return
        if not self._mark_fits():
            return  # the log is at its bound: the mark waits for the next group, when there is room
        try:
            await asyncio.get_running_loop().run_in_executor(self._io, self._wal.append_mark, mark)
        except OSError as error:
            self._log_failed(error)
            return
        self._mark_written = mark
        self._redeliveries.mark_written(mark)
        self._logged()  # the drainer reads past it, so the backlog empties

    def _log_failed(self, error: OSError) -> None:
        if self.figures.log_error is None:
            log.error(
                "the write-ahead log cannot be written: not acknowledging (the broker keeps the messages), "
                "retrying until it can error=%s data_dir=%s",
                error,
                self._wal.directory,
            )
        self.figures.log_error = f"{error.strerror or error} (errno {error.errno})"

    def _mark_bytes(self) -> int:
        """Room a due mark takes in the log (it goes first in the next group), so marks keep to the bound too."""
        mark = self._redeliveries.mark_due
        return _MARK_BYTES if mark is not None and mark > self._mark_written else 0

    def _mark_fits(self) -> bool:
        return self._wal.backlog_bytes + _MARK_BYTES <= self._max_bytes

    def _take_group(self) -> list[Entry]:
        room = self._max_bytes - self._wal.backlog_bytes - self._mark_bytes()
        one_segment = self._wal.segment_bytes - self._mark_bytes()  # a group fits one log segment
        entries = self._waiting.entries
        group: list[Entry] = []
        size = 0
        while entries:
            if entries[0].cancelled:
                entries.popleft()
                continue
            record = entries[0].record
            grow = len(record) + 8 if record is not None else 0
            # an empty log takes a record whatever its size, so one large record can never block forever
            if size + grow > room and (group or self._wal.backlog_bytes > 0):
                break
            if group and size + grow > one_segment:
                break
            taken = entries.popleft()
            taken.taken = True
            group.append(taken)
            size += grow
        return group

    def _persist(self, records: list[bytes], rejects: list[tuple[bytes, Reject]]) -> Position:
        end = self._wal.append(records)
        try:  # visible at once; the drainer adds them again (idempotently) before the log lets them go
            self._rejects.add(rejects)
        except (OSError, sqlite3.Error) as error:  # the log has them: showing them can wait for the drainer
            log.warning("rejects not stored yet (the drainer tries again) error=%s", error)
        return end

    async def wait_committed(self) -> None:
        """Until every message taken in is logged and acked, or the committer waits for room in the log or
        for a disk it cannot write."""
        waiting = self._waiting
        while waiting.entries and not self.figures.log_full and self.figures.log_error is None:
            waiting.idle.clear()
            await waiting.idle.wait()
