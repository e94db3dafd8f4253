"""The third stage: the log is read in batches and written to InfluxDB, then truncated.

InfluxDB down: retried with backoff and jitter, the log keeps everything meanwhile. A refused batch (400)
is split until the refused points stand alone; only those become rejects. Rejects go to the rejects store
and HTTP answers to the idempotency table before the log lets their records go.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from iot_suitcase.devices.errors import RejectCode
from iot_suitcase.ingest.sink.batch import Batch, batch_of, record_text
from iot_suitcase.ingest.sink.influx import InfluxWriter, WriteError
from iot_suitcase.ingest.sink.points import DEVICE_TAG
from iot_suitcase.ingest.sink.rejects import RejectStore, log_reject
from iot_suitcase.ingest.wal.idempotency import KEPT_S, Answer, IdempotencyKeys
from iot_suitcase.ingest.wal.log import Position, WriteAheadLog
from iot_suitcase.ingest.wal.records import POINTS, Record, Reject

log = logging.getLogger(__name__)

_RETRY_START_S = 0.2
_RETRY_MAX_S = 30.0
_STORE_RETRY_MAX_S = 5.0


@dataclass(slots=True)
class SinkFigures:
    stored_messages: int = 0
    stored_readings: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # logged messages InfluxDB refused (unwritable)
    write_errors: int = 0
    batches: int = 0
    influx_ok: bool = True
    store_error: str | None = None  # the drainer cannot note its progress (checkpoint, rejects store)
    write_latency_ms: float = 0.0


class Drainer:
    """Moves what the log holds into InfluxDB (see the module docstring)."""

    def __init__(
        self,
        wal: WriteAheadLog,
        writer: InfluxWriter,
        *,
        rejects: RejectStore,
        idempotency: IdempotencyKeys,
        io: Executor,
        batch_size: int,
        batch_interval_s: float,
        drained: Callable[[], None],
    ) -> None:
        self._wal = wal
        self._writer = writer
        self._rejects = rejects
        self._idempotency = idempotency
        self._io = io
        self._batch_size = batch_size
        self._interval = batch_interval_s
        self._drained = drained  # tells the committer the log has room again
        self._logged = asyncio.Event()
        self.figures = SinkFigures()

    def wake(self) -> None:
        """The committer logged something."""
        self._logged.set()

    async def run(self) -> None:
        last_write = 0.0
        delay = _RETRY_START_S
        loop = asyncio.get_running_loop()
        figures = self.figures
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
                batch = batch_of(records)
                rejects = batch.rejects + await self._store_until_accepted(batch)
                await loop.run_in_executor(self._io, self._finish, batch, rejects, position)
            except (OSError, sqlite3.Error) as error:
                self._wal.rewind()  # InfluxDB has the points already: writing them again changes nothing
                if figures.store_error is None:
                    log.error(
                        "cannot note what InfluxDB has stored (log checkpoint or rejects store): retrying; "
                        "the log keeps everything meanwhile error=%s",
                        error,
                    )
                figures.store_error = str(error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _STORE_RETRY_MAX_S)
                continue
            if figures.store_error is not None:
                log.info("the drainer notes its progress again")
                figures.store_error = None
            delay = _RETRY_START_S
            self._drained()

    def _finish(self, batch: Batch, rejects: list[tuple[bytes, Reject]], position: Position) -> None:
        self._rejects.add(rejects)
        answers = [answer_of(record) for record in batch.idempotent]
        self._rejects.remember_answers(answers, KEPT_S)
        self._wal.commit(position, len(batch.bodies))
        for key, at, status, body in answers:
            self._idempotency.put(key, Answer(status, body), at)

    async def _store_until_accepted(self, batch: Batch) -> list[tuple[bytes, Reject]]:
        delay = _RETRY_START_S
        figures = self.figures
        while True:
            try:
                refused = await self._write_batch(batch)
            except WriteError as error:
                figures.write_errors += 1
                if figures.influx_ok:
                    log.warning("InfluxDB write failed, retrying with backoff error=%s", error)
                figures.influx_ok = False
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not cryptography
                delay = min(delay * 2, _RETRY_MAX_S)
                continue
            if not figures.influx_ok:
                log.info("InfluxDB accepts writes again backlog_records=%d", self._wal.backlog_records)
            figures.influx_ok = True
            figures.batches += 1
            return refused

    async def _write_batch(self, batch: Batch) -> list[tuple[bytes, Reject]]:
        """Write the batch in one request; on a 400 split its records as below."""
        return await self._write(
            batch.text,
            batch.messages,
            batch.readings,
            batch.records,
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
        self.figures.write_latency_ms = (time.monotonic() - started) * 1000
        self.figures.stored_messages += messages
        self.figures.stored_readings += readings
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
        self.figures.refused[RejectCode.UNWRITABLE] += 1
        reject = Reject(record.topic, record.payload, record.received_at, device, RejectCode.UNWRITABLE, reason)
        log_reject(reject)
        return [(record.key, reject)]


def answer_of(record: Record) -> tuple[bytes, float, int, str]:
    """What HTTP answered for a logged message: (key, time, status, JSON body)."""
    at = record.received_at.timestamp()
    if record.reject is None:
        return record.key, at, 202, json.dumps({"accepted": True})
    body = json.dumps({"error": record.reject.code, "reason": record.reject.reason}, ensure_ascii=False)
    return record.key, at, 400, body


def _device_of(line: str) -> str | None:
    marker = f",{DEVICE_TAG}="
    if marker not in line:
        return None
    return line.split(marker, 1)[1].split(" ", 1)[0].split(",", 1)[0]
