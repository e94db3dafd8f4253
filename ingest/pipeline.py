"""From an MQTT message to acknowledged lines in InfluxDB: decode, batch, write, then ack.

A message is acknowledged only after its readings are in InfluxDB (or after it was kept as a reject),
and in arrival order. Until then the broker keeps it, so a crash or an InfluxDB outage loses nothing;
MQTT v5 Receive Maximum bounds how many unacknowledged messages are held here.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from devices.decode import Decoder
from devices.errors import DecodeError, RejectCode
from devices.formats import Message
from ingest.influx import InfluxWriter, WriteError
from ingest.points import reading_line

log = logging.getLogger(__name__)

Ack = Callable[[int, int, int], None]  # (mid, qos, connection generation)

_RETRY_START_S = 0.2
_RETRY_MAX_S = 30.0


@dataclass(slots=True)
class Stats:
    """Counters for logs, tests and (later) metrics."""

    received: int = 0
    stored_messages: int = 0
    stored_readings: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    write_errors: int = 0
    batches: int = 0


@dataclass(slots=True)
class Pending:
    """One handled message waiting for its batch: its lines (none for a reject) and how to ack it."""

    mid: int
    qos: int
    generation: int
    lines: list[str]


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
    """Decodes messages as they arrive and writes them to InfluxDB in batches bounded by size and time."""

    def __init__(
        self,
        decoder: Decoder,
        writer: InfluxWriter,
        *,
        batch_size: int,
        batch_interval_s: float,
    ) -> None:
        self._decoder = decoder
        self._writer = writer
        self._batch_size = batch_size
        self._interval = batch_interval_s
        self._pending: deque[Pending] = deque()
        self._pending_lines = 0
        self._due = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._clock = ReceiveClock()
        self.ack: Ack = lambda mid, qos, generation: None
        self.stats = Stats()

    # --- intake (synchronous: runs inside the MQTT read callback) -----------------------------------------
    def submit(self, topic: str, payload: bytes, *, mid: int = 0, qos: int = 0, generation: int = 0) -> None:
        self.stats.received += 1
        message = Message(payload=payload, received_at=self._clock.now(), topic=topic)
        try:
            lines = [reading_line(reading) for reading in self._decoder.decode(message)]
        except DecodeError as error:
            self._reject(message, error.code, error.reason, error.device_id)
            lines = []
        except Exception as error:  # a bug in a decoder must cost one message, never the service
            log.exception("decoder crashed topic=%s", topic)
            self._reject(message, RejectCode.UNKNOWN_FORMAT, f"internal decoder error: {error!r}", None)
            lines = []
        self._pending.append(Pending(mid, qos, generation, lines))
        self._pending_lines += len(lines)
        if self._pending_lines >= self._batch_size:
            self._due.set()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._due.set)

    def _reject(self, message: Message, code: RejectCode, reason: str, device_id: str | None) -> None:
        self.stats.rejected[code] += 1
        log.warning(
            "rejected message code=%s device=%s topic=%s reason=%r payload=%r",
            code,
            device_id or "-",
            message.topic,
            reason,
            message.payload[:200],
        )

    @property
    def backlog(self) -> int:
        """Messages handled but not yet acknowledged."""
        return len(self._pending)

    # --- output -------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Write batches as they become due, forever (cancel to stop)."""
        while True:
            await self._due.wait()
            await self.flush_once()

    async def flush_once(self) -> None:
        """Write one batch (retrying until InfluxDB takes it) and ack its messages in arrival order."""
        self._due.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = self._take_batch()
        lines = [line for item in batch for line in item.lines]
        if lines:
            await self._write_until_accepted(lines, batch)
        for item in batch:
            self.ack(item.mid, item.qos, item.generation)
        if self._pending_lines >= self._batch_size:
            self._due.set()
        elif self._pending and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval, self._due.set)

    async def drain(self) -> None:
        """Flush everything pending (graceful shutdown)."""
        while self._pending:
            await self.flush_once()

    def _take_batch(self) -> list[Pending]:
        batch: list[Pending] = []
        taken = 0
        while self._pending and (taken < self._batch_size or not batch):
            item = self._pending.popleft()
            batch.append(item)
            taken += len(item.lines)
            if taken >= self._batch_size:
                break
        self._pending_lines -= taken
        return batch

    async def _write_until_accepted(self, lines: list[str], batch: list[Pending]) -> None:
        delay = _RETRY_START_S
        while True:
            try:
                await self._writer.write("\n".join(lines))
            except WriteError as error:
                self.stats.write_errors += 1
                if not error.retryable:
                    # InfluxDB refused these lines for good; #3 splits the batch to save the good ones.
                    self.stats.rejected[RejectCode.UNWRITABLE] += sum(1 for item in batch if item.lines)
                    log.error("InfluxDB refused a batch lines=%d error=%s", len(lines), error.message)
                    return
                wait = delay * random.uniform(0.5, 1.5)  # noqa: S311 - jitter
                log.warning("InfluxDB write failed, retrying in %.2f s error=%s", wait, error)
                await asyncio.sleep(wait)
                delay = min(delay * 2, _RETRY_MAX_S)
            else:
                self.stats.batches += 1
                self.stats.stored_readings += len(lines)
                self.stats.stored_messages += sum(1 for item in batch if item.lines)
                return
