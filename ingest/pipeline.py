"""From an MQTT message to an acknowledged, durable record, and from the log into InfluxDB.

Three stages, each with one job:

- **intake** (``submit``, inside the MQTT read callback): decode and validate, turn the message into a log
  record (its points, or a reject with its reason), or recognise a broker redelivery of a message the log
  already holds.
- **committer**: appends the waiting records to the write-ahead log with one fsync per group, then
  acknowledges those messages in arrival order. When the log is at its size bound it stops, so acks stop
  and the broker (MQTT v5 Receive Maximum) stops sending: nothing is dropped to make room.
- **drainer**: reads the log in batches, writes points to InfluxDB (retrying with backoff and jitter while
  it is down; splitting a refused batch so only the refused points become rejects), stores rejects, and
  truncates what is done.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from devices.decode import Decoder
from devices.errors import DecodeError, RejectCode
from devices.formats import Message
from ingest.intake.directory import DeviceDirectory, UnknownDevices
from ingest.operations.status import StatusBoard
from ingest.sink.influx import InfluxWriter, WriteError
from ingest.sink.lineprotocol import format_float
from ingest.sink.points import (
    DEVICE_TAG,
    PIPELINE,
    reading_lines,
    reject_line,
    tag_value,
    time_ns,
    uplink_line,
)
from ingest.sink.recent import Batch, RecentRecords, record_text
from ingest.sink.rejects import RejectStore
from ingest.wal.idempotency import KEPT_S, PENDING, Answer, IdempotencyKeys
from ingest.wal.log import Position, WriteAheadLog
from ingest.wal.records import (
    MARK,
    POINTS,
    REJECT,
    Record,
    Reject,
    decode_record,
    is_idempotent,
    kind_of,
    mark_record,
    message_key,
    points_record,
    reject_record,
)
from ingest.wal.redelivery import Redeliveries, Verdict

log = logging.getLogger(__name__)

Ack = Callable[[int, int, int], None]  # (mid, qos, connection generation)

_RETRY_START_S = 0.2
_RETRY_MAX_S = 30.0
_LOG_RETRY_MAX_S = 5.0  # a disk that is full again has room once someone frees it: look often
_MARK_LINGER_S = 0.1
_MARK_BYTES = len(mark_record(0, 0)) + 8  # with the log's framing, as _take_group counts records
_STATUS_INTERVAL_S = 2.0
_FIGURES_EVERY = 5  # status intervals between two suitcase_pipeline points (10 s)


@dataclass(slots=True)
class Stats:
    """Counters for the status log line, tests and metrics."""

    received: int = 0
    duplicates: int = 0  # broker redeliveries recognised, acknowledged and not stored again
    possible_duplicates: int = 0  # stored, though they may repeat a stored message (see redelivery.py)
    logged: int = 0
    acked: int = 0
    stored_messages: int = 0
    stored_readings: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    write_errors: int = 0
    batches: int = 0
    influx_ok: bool = True
    log_full: bool = False
    log_error: str | None = None  # the log cannot be written (disk full, I/O error, read-only)
    store_error: str | None = None  # the drainer cannot note its progress (checkpoint, rejects store)
    log_damage: list[str] = field(default_factory=list)  # what opening the log found damaged
    write_latency_ms: float = 0.0


@dataclass(slots=True)
class Entry:
    """A handled message waiting for the committer; ``record`` is None for a recognised redelivery.

    ``reject`` tells a caller at once why a message was not stored (HTTP answers 400 with it);
    ``committed`` resolves once the record is in the log (HTTP answers 202 then); a ``cancelled`` entry
    (its HTTP client gave up waiting) is dropped before it is logged, so the client's retry is no duplicate.
    """

    mid: int
    qos: int
    generation: int
    record: bytes | None
    reject: Reject | None = None
    committed: asyncio.Future[None] | None = None
    cancelled: bool = False
    taken: bool = False  # in a group the committer is writing: too late to cancel
    key: bytes = b""  # (topic, payload, packet id), for redelivery recognition


class ReceiveClock:
    """Receive times that strictly increase, so two messages never share a timestamp (and a point)."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        moment = datetime.now(UTC)
        if moment <= self._last:
            moment = self._last + timedelta(microseconds=1)
        self._last = moment
        return moment


class Pipeline:
    """Intake, committer and drainer around one write-ahead log (see the module docstring)."""

    def __init__(
        self,
        decoder: Decoder,
        writer: InfluxWriter,
        wal: WriteAheadLog,
        rejects: RejectStore,
        *,
        batch_size: int,
        batch_interval_s: float,
        wal_max_bytes: int,
        remember_keys: int,
        worker: str = "ingest",
        directory: DeviceDirectory | None = None,
        board: StatusBoard | None = None,
    ) -> None:
        self._decoder = decoder
        self._writer = writer
        self._wal = wal
        self._rejects = rejects
        self._batch_size = batch_size
        self._interval = batch_interval_s
        self._max_bytes = wal_max_bytes
        self._remember_keys = remember_keys
        self._worker = tag_value(worker)
        self._directory = directory or DeviceDirectory(None, UnknownDevices.ACCEPT)
        self.board = board or StatusBoard(self._directory.known)
        self.redeliveries = Redeliveries(recent_limit=remember_keys)
        self.idempotency = IdempotencyKeys()
        # line protocol of logged records not yet drained: a few batches' worth, so memory stays bounded
        self._recent = RecentRecords(limit=4 * batch_size)
        self._fifo: deque[Entry] = deque()
        self._incoming = asyncio.Event()
        self._logged = asyncio.Event()
        self._space = asyncio.Event()
        self._idle = asyncio.Event()
        self._clock = ReceiveClock()
        self._last_reject: Reject | None = None
        self._mark_written = Position(0, 0)
        # Disk and SQLite work runs here, off the event loop; close() waits for it before files are closed.
        self._io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="suitcase-io")
        self.ack: Ack = lambda mid, qos, generation: None
        self.flush_acks: Callable[[], None] = lambda: None  # sends the group's acks (one write for all)
        # a PINGREQ; ``pong`` gets the position back with its PINGRESP, which confirms the acks before it
        self.ping: Callable[[Position], None] = lambda position: None
        self.stats = Stats()

    def open(self) -> None:
        """Recover the log, and which of its messages a broker redelivery may still repeat."""
        recovery = self._wal.open()
        self.redeliveries.recover(recovery.records, recovery.mark)
        self._mark_written = recovery.mark or Position(0, 0)
        self._wal.release(self.redeliveries.released)
        self.stats.log_damage = [str(damage) for damage in recovery.damaged]
        for key, at, status, body in self._rejects.answers_since(time.time() - KEPT_S):
            self.idempotency.put(key, Answer(status, body), at)
        for logged in recovery.records:  # logged, not yet drained (else answered): the drainer settles them
            if logged.idempotent and self.idempotency.get(logged.key) is None:
                self.idempotency.put(logged.key, PENDING)
        if self._wal.backlog_records:
            log.info(
                "replaying the write-ahead log records=%d bytes=%d", self._wal.backlog_records, self._wal.backlog_bytes
            )

    # --- the broker connection ----------------------------------------------------------------------------
    def connected(self, generation: int) -> None:
        self.redeliveries.connected(generation)

    def pong(self, through: Position) -> None:
        """The broker answered our PINGREQ: every ack sent before ``through`` was processed."""
        again = self.redeliveries.pong(through)
        if again is not None:
            self.ping(again)
        self._wal.release(self.redeliveries.released)
        if self.redeliveries.mark_due is not None:
            self._incoming.set()  # the committer writes the mark (with the next group, or alone)

    # --- intake -------------------------------------------------------------------------------------------
    def submit(
        self,
        topic: str,
        payload: bytes,
        *,
        mid: int = 0,
        qos: int = 0,
        dup: bool = False,
        generation: int = 0,
        idempotency: bytes | None = None,
    ) -> Entry:
        """Handle one message as it arrives (synchronous: runs inside the MQTT read callback).

        ``idempotency``: the log key of an HTTP message sent with an Idempotency-Key (records.py)."""
        self.stats.received += 1
        key = message_key(topic, payload, mid) if idempotency is None else idempotency
        redeliveries = self.redeliveries
        if qos:
            redeliveries.arrived(generation, dup)
        verdict = redeliveries.classify(key, dup)
        if verdict is Verdict.REDELIVERY:
            self.stats.duplicates += 1
            redeliveries.redelivered(key, generation)
            entry = Entry(mid, qos, generation, None, key=key)
        else:
            if verdict is Verdict.POSSIBLE_DUPLICATE:
                self.stats.possible_duplicates += 1
            self._last_reject = None
            record = self._record(key, topic, payload, idempotent=idempotency is not None)
            entry = Entry(mid, qos, generation, record, self._last_reject, key=key)
            if idempotency is not None:
                self.idempotency.put(key, PENDING)
            if qos:
                redeliveries.accepted(key)
        self._fifo.append(entry)
        self._incoming.set()
        return entry

    def _record(self, key: bytes, topic: str, payload: bytes, *, idempotent: bool = False) -> bytes:
        received_at = self._clock.now()
        message = Message(payload=payload, received_at=received_at, topic=topic)
        try:
            outcome = self._decoder.decode_message(message)
            refusal = self._directory.admit(outcome.device_id)
            if refusal is not None:
                code, reason = refusal
                reject = Reject(topic, payload, received_at, outcome.device_id, code, reason)
                return self._reject(key, reject, idempotent=idempotent)
            tags = self._directory.tags(outcome.device_id)
            lines = reading_lines(outcome.readings, tags)
        except DecodeError as error:
            reject = Reject(topic, payload, received_at, error.device_id, error.code, error.reason)
            return self._reject(key, reject, idempotent=idempotent)
        except Exception as error:  # a bug in a decoder must cost one message, never the service
            log.exception("decoder crashed topic=%s", topic)
            reason = f"internal decoder error: {error!r}"
            reject = Reject(topic, payload, received_at, None, RejectCode.UNKNOWN_FORMAT, reason)
            return self._reject(key, reject, idempotent=idempotent)
        self.board.stored(outcome, received_at)
        site = self._directory.site(outcome.device_id)
        uplink = uplink_line(
            outcome.device_id, site, outcome.format, readings=len(lines), size=len(payload), time=time_ns(received_at)
        )
        body = points_record(key, topic, payload, received_at, lines, bookkeeping=[uplink], idempotent=idempotent)
        self._recent.add(body, "\n".join([*lines, uplink]), len(lines))
        return body

    def _reject(self, key: bytes, reject: Reject, *, idempotent: bool = False) -> bytes:
        if len(reject.payload) > self._decoder.options.max_payload_bytes:
            reject = bounded(reject)
        self._last_reject = reject
        self.board.rejected(reject)
        self.stats.rejected[reject.code] += 1
        log_reject(reject)
        site = self._directory.site(reject.device_id)
        bookkeeping = [reject_line(reject.code, reject.device_id, site, time_ns(reject.received_at))]
        return reject_record(key, reject, bookkeeping, idempotent=idempotent)

    async def submit_and_wait(
        self, topic: str, payload: bytes, timeout: float, *, idempotency: bytes | None = None
    ) -> Entry:
        """Submit a message that has no broker behind it (HTTP) and wait until it is durably logged.

        Raises ``TimeoutError`` if the log has no room in time; the message is then dropped before it is
        logged (the caller answers 503 and the client retries), never stored twice. One that the committer
        has already taken is being logged: that one is waited for, since its retry would be a duplicate.
        """
        entry = self.submit(topic, payload, idempotency=idempotency)
        entry.committed = asyncio.get_running_loop().create_future()
        while True:
            try:
                await asyncio.wait_for(asyncio.shield(entry.committed), timeout)
            except TimeoutError:
                if entry.taken:
                    continue  # being written; a failed write hands it back (taken False) and we give up then
                if not entry.committed.done():
                    entry.cancelled = True
                    if idempotency is not None:
                        self.idempotency.forget(idempotency)
                    raise
            return entry

    @property
    def held(self) -> int:
        """Messages received but not yet in the log (and so not acknowledged)."""
        return len(self._fifo)

    # --- committer ----------------------------------------------------------------------------------------
    async def run_committer(self) -> None:
        delay = _RETRY_START_S
        while True:
            if not self._fifo:
                self._idle.set()
                self._incoming.clear()
                if self._mark_bytes() and not self.stats.log_error and self._mark_fits():
                    await self._write_mark_when_quiet()
                    continue
                await self._incoming.wait()
                continue
            self._idle.clear()
            group = self._take_group()
            if not group:
                if not self.stats.log_full:
                    log.warning(
                        "write-ahead log is full: not acknowledging until InfluxDB catches up backlog_bytes=%d held=%d",
                        self._wal.backlog_bytes,
                        len(self._fifo),
                    )
                self.stats.log_full = True
                self._idle.set()
                self._space.clear()
                await self._space.wait()
                continue
            if self.stats.log_full:
                log.info("write-ahead log has room again: acknowledging")
            self.stats.log_full = False
            try:
                await self._commit(group)
            except OSError as error:
                for entry in group:
                    entry.taken = False
                self._fifo.extendleft(reversed(group))  # in order, first again; the broker holds them all
                self._log_failed(error)
                self._idle.set()  # nothing is being written: a shutdown need not wait for it
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LOG_RETRY_MAX_S)
                continue
            delay = _RETRY_START_S
            if self.stats.log_error is not None:
                log.info("the write-ahead log can be written again: acknowledging")
                self.stats.log_error = None

    async def _commit(self, group: list[Entry]) -> None:
        """Log a group (with a mark that is due), acknowledge it in arrival order, tell the HTTP waiters."""
        records = [entry.record for entry in group if entry.record is not None]
        mark = self.redeliveries.mark_due
        if mark is not None and mark > self._mark_written:
            records.insert(0, mark_record(mark.segment, mark.offset))
        rejects = [(r.key, r.reject) for r in map(decode_record, filter(_is_reject, records)) if r.reject]
        start = self._wal.end
        end = await asyncio.get_running_loop().run_in_executor(self._io, self._persist, records, rejects)
        if mark is not None and mark > self._mark_written:
            self._mark_written = mark
            self.redeliveries.mark_written(mark)
        self.redeliveries.logged(start, end, [(e.key, e.generation) for e in group if e.qos and e.record])
        for entry in group:
            self.ack(entry.mid, entry.qos, entry.generation)
            if entry.record is None and entry.qos:
                self.redeliveries.resend_acked(entry.key, end)
            if entry.committed is not None and not entry.committed.done():
                entry.committed.set_result(None)
        self.flush_acks()
        if any(entry.qos for entry in group):
            ping = self.redeliveries.acks_sent(end)
            if ping is not None:
                self.ping(ping)
        self._wal.release(self.redeliveries.released)
        self.stats.logged += len(records)
        self.stats.acked += len(group)
        self._logged.set()

    async def _write_mark_when_quiet(self) -> None:
        """A due mark goes with the next group; if none comes soon, alone (one small append)."""
        try:
            await asyncio.wait_for(self._incoming.wait(), _MARK_LINGER_S)
            return
        except TimeoutError:
            pass
        mark = self.redeliveries.mark_due
        if mark is None or mark <= self._mark_written:
            self.redeliveries.mark_due = None
            return
        if not self._mark_fits():
            return  # the log is at its bound: the mark waits for the next group, when there is room
        try:
            await asyncio.get_running_loop().run_in_executor(self._io, self._wal.append_mark, mark)
        except OSError as error:
            self._log_failed(error)
            return
        self._mark_written = mark
        self.redeliveries.mark_written(mark)
        self._logged.set()  # the drainer reads past it, so the backlog empties

    def _log_failed(self, error: OSError) -> None:
        if self.stats.log_error is None:
            log.error(
                "the write-ahead log cannot be written: not acknowledging (the broker keeps the messages), "
                "retrying until it can error=%s data_dir=%s",
                error,
                self._wal.directory,
            )
        self.stats.log_error = f"{error.strerror or error} (errno {error.errno})"

    def _mark_bytes(self) -> int:
        """Room a due mark takes in the log (it goes first in the next group), so marks keep to the bound too."""
        mark = self.redeliveries.mark_due
        return _MARK_BYTES if mark is not None and mark > self._mark_written else 0

    def _mark_fits(self) -> bool:
        return self._wal.backlog_bytes + _MARK_BYTES <= self._max_bytes

    def _take_group(self) -> list[Entry]:
        room = self._max_bytes - self._wal.backlog_bytes - self._mark_bytes()
        one_segment = self._wal.segment_bytes - self._mark_bytes()  # a group fits one log segment
        group: list[Entry] = []
        size = 0
        while self._fifo:
            if self._fifo[0].cancelled:
                cancelled = self._fifo.popleft().record
                if cancelled is not None:
                    self._recent.forget(cancelled)
                continue
            record = self._fifo[0].record
            grow = len(record) + 8 if record is not None else 0
            # an empty log takes a record whatever its size, so one large record can never block forever
            if size + grow > room and (group or self._wal.backlog_bytes > 0):
                break
            if group and size + grow > one_segment:
                break
            taken = self._fifo.popleft()
            taken.taken = True
            group.append(taken)
            size += grow
        return group

    def _persist(self, records: list[bytes], rejects: list[tuple[bytes, Reject]]) -> Position:
        end = self._wal.append(records)
        try:  # visible at once; the drainer adds them again (idempotently) before the log lets them go
            self._rejects.add(rejects)
        except (OSError, sqlite3.Error) as error:
            log.warning("rejects not stored yet (the drainer tries again) error=%s", error)
        return end

    async def wait_committed(self) -> None:
        """Until every message taken in is logged and acked, or the committer waits for room in the log or
        for a disk it cannot write."""
        while self._fifo and not self.stats.log_full and self.stats.log_error is None:
            self._idle.clear()
            await self._idle.wait()

    # --- drainer ------------------------------------------------------------------------------------------
    async def run_drainer(self) -> None:
        last_write = 0.0
        delay = _RETRY_START_S
        loop = asyncio.get_running_loop()
        while True:
            self._logged.clear()
            if self._wal.backlog_records < self._batch_size:
                linger = self._interval - (time.monotonic() - last_write)
                if linger > 0:
                    await asyncio.sleep(linger)
            try:
                records, position = await loop.run_in_executor(self._io, self._wal.read, self._batch_size)
                if not records:
                    await self._logged.wait()
                    continue
                last_write = time.monotonic()
                batch = self._recent.batch(records)
                rejects = batch.rejects + await self._store_until_accepted(batch)
                await loop.run_in_executor(self._io, self._finish, batch, rejects, position)
            except (OSError, sqlite3.Error) as error:
                self._wal.rewind()  # InfluxDB has the points already: writing them again changes nothing
                if self.stats.store_error is None:
                    log.error(
                        "cannot note what InfluxDB has stored (log checkpoint or rejects store): retrying; "
                        "the log keeps everything meanwhile error=%s",
                        error,
                    )
                self.stats.store_error = str(error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LOG_RETRY_MAX_S)
                continue
            if self.stats.store_error is not None:
                log.info("the drainer notes its progress again")
                self.stats.store_error = None
            delay = _RETRY_START_S
            self._space.set()

    def _finish(self, batch: Batch, rejects: list[tuple[bytes, Reject]], position: Position) -> None:
        self._rejects.add(rejects)
        answers = [answer_of(decode_record(body)) for body in batch.bodies if is_idempotent(body)]
        self._rejects.remember_answers(answers, KEPT_S)
        self._wal.commit(position, len(batch.bodies))
        for key, at, status, body in answers:
            self.idempotency.put(key, Answer(status, body), at)

    async def _store_until_accepted(self, batch: Batch) -> list[tuple[bytes, Reject]]:
        delay = _RETRY_START_S
        while True:
            try:
                refused = await self._write_batch(batch)
            except WriteError as error:
                self.stats.write_errors += 1
                if self.stats.influx_ok:
                    log.warning("InfluxDB write failed, retrying with backoff error=%s", error)
                self.stats.influx_ok = False
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not cryptography
                delay = min(delay * 2, _RETRY_MAX_S)
                continue
            if not self.stats.influx_ok:
                log.info("InfluxDB accepts writes again backlog_records=%d", self._wal.backlog_records)
            self.stats.influx_ok = True
            self.stats.batches += 1
            return refused

    async def _write_batch(self, batch: Batch) -> list[tuple[bytes, Reject]]:
        """Write the batch in one request; on a 400 split its records (decoded from the log) as below."""
        return await self._write(
            batch.text,
            batch.messages,
            batch.readings,
            lambda: [decode_record(body) for body in batch.bodies if body[0] != MARK],
        )

    async def _write_or_split(self, records: list[Record]) -> list[tuple[bytes, Reject]]:
        """Write; on a 400 split the batch in halves until the refused points stand alone as rejects."""
        text = "\n".join(filter(None, map(record_text, records)))
        messages = sum(1 for record in records if record.kind == POINTS)
        return await self._write(text, messages, sum(len(record.lines) for record in records), lambda: records)

    async def _write(
        self, text: str, messages: int, readings: int, records: Callable[[], list[Record]]
    ) -> list[tuple[bytes, Reject]]:
        """One write of ``text``; a 400 splits ``records()`` (only then built) until each refused one stands
        alone; a retryable error goes to the caller."""
        if not text:
            return []
        started = time.monotonic()
        try:
            await self._writer.write(text)
        except WriteError as error:
            if error.retryable:
                raise
            return await self._split(records(), error)
        self.stats.write_latency_ms = (time.monotonic() - started) * 1000
        self.stats.stored_messages += messages
        self.stats.stored_readings += readings
        return []

    async def _split(self, records: list[Record], error: WriteError) -> list[tuple[bytes, Reject]]:
        if len(records) == 1:
            return self._refused(records[0], error)
        half = len(records) // 2
        return await self._write_or_split(records[:half]) + await self._write_or_split(records[half:])

    def _refused(self, record: Record, error: WriteError) -> list[tuple[bytes, Reject]]:
        if record.reject is not None:  # only its bookkeeping point was refused: the reject itself is kept
            log.warning("InfluxDB refused a reject's bookkeeping point error=%s", error.message)
            return []
        device = _device_of(record.lines[0] if record.lines else record.bookkeeping[0])
        reason = f"InfluxDB refused the point: {error.message}"
        self.stats.rejected[RejectCode.UNWRITABLE] += 1
        reject = Reject(record.topic, record.payload, record.received_at, device, RejectCode.UNWRITABLE, reason)
        log_reject(reject)
        return [(record.key, reject)]

    async def close(self) -> None:
        """Wait for disk work under way (the tasks were cancelled) so the log and store can be closed."""
        await asyncio.get_running_loop().run_in_executor(None, self._io.shutdown, True)

    # --- status -------------------------------------------------------------------------------------------
    async def run_status(self) -> None:
        """A status line whenever something changed: what staff and tests watch until #8's metrics."""
        last = ""
        ticks = 0
        while True:
            await asyncio.sleep(_STATUS_INTERVAL_S)
            line = self.status_line()
            if line != last:
                log.info("status %s", line)
                last = line
            ticks += 1
            if ticks % _FIGURES_EVERY == 0:
                await self._write_figures()

    async def _write_figures(self) -> None:
        """The pipeline's own figures into InfluxDB, so Grafana needs one source (best effort: not logged)."""
        s = self.stats
        fields = {
            "received": s.received,
            "acked": s.acked,
            "duplicates": s.duplicates,
            "stored_readings": s.stored_readings,
            "rejected": sum(s.rejected.values()),
            "backlog_records": self._wal.backlog_records,
            "backlog_bytes": self._wal.backlog_bytes,
            "write_latency_ms": s.write_latency_ms,
            "influx_ok": int(s.influx_ok),
        }
        values = ",".join(f"{name}={format_float(float(value))}" for name, value in fields.items())
        try:
            await self._writer.write(f"{PIPELINE},worker={self._worker} {values} {time.time_ns()}")
        except WriteError as error:
            log.debug("pipeline figures not written error=%s", error)

    def status_line(self) -> str:
        s = self.stats
        return (
            f"received={s.received} acked={s.acked} duplicates={s.duplicates} "
            f"possible_duplicates={s.possible_duplicates} held={len(self._fifo)} "
            f"backlog_records={self._wal.backlog_records} backlog_bytes={self._wal.backlog_bytes} "
            f"stored_readings={s.stored_readings} rejected={sum(s.rejected.values())} "
            f"influx={'ok' if s.influx_ok else 'failing'} log_full={s.log_full} "
            f"log_writable={s.log_error is None}"
        )


REJECT_PREFIX_BYTES = 1024


def bounded(reject: Reject) -> Reject:
    """An oversized payload's reject keeps its first KiB, its size and its hash: enough to recognise it,
    never megabytes per message in the log and the rejects store."""
    payload = reject.payload
    digest = hashlib.sha256(payload).hexdigest()
    note = f" (kept: the first {REJECT_PREFIX_BYTES} of {len(payload)} bytes; sha256 {digest})"
    return replace(reject, payload=payload[:REJECT_PREFIX_BYTES], reason=reject.reason + note)


def log_reject(reject: Reject) -> None:
    """Every reject in the log with its device and reason; as separate fields in JSON logs."""
    log.warning(
        "rejected message code=%s device=%s topic=%r reason=%r payload=%r",
        reject.code,
        reject.device_id or "-",
        reject.topic,
        reject.reason,
        reject.payload[:200],
        extra={
            "event": "reject",
            "code": str(reject.code),
            "device": reject.device_id,
            "topic": reject.topic,
            "reason": reject.reason,
        },
    )


def answer_of(record: Record) -> tuple[bytes, float, int, str]:
    """What HTTP answered for a logged message: (key, time, status, JSON body)."""
    at = record.received_at.timestamp()
    if record.reject is None:
        return record.key, at, 202, json.dumps({"accepted": True})
    body = json.dumps({"error": record.reject.code, "reason": record.reject.reason}, ensure_ascii=False)
    return record.key, at, 400, body


def _is_reject(record: bytes) -> bool:
    return kind_of(record) == REJECT


def _device_of(line: str) -> str | None:
    marker = f",{DEVICE_TAG}="
    if marker not in line:
        return None
    return line.split(marker, 1)[1].split(" ", 1)[0].split(",", 1)[0]
