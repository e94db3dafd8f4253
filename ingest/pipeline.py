"""From a message to an acknowledged, durable record, and from the log into InfluxDB: the three stages
joined, in the order a message passes them.

- **intake** (``ingest/intake/``): decode and validate, turn the message into a log record (its points,
  or a reject with its reason), or recognise a broker redelivery of a message the log already holds;
- **committer** (``ingest/wal/committer.py``): log waiting records with one fsync per group, then
  acknowledge them in arrival order;
- **drainer** (``ingest/sink/drainer.py``): write the log to InfluxDB in batches, keep rejects, truncate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from iot_suitcase.devices.decode import Decoder
from iot_suitcase.ingest.intake.directory import DeviceDirectory, UnknownDevices
from iot_suitcase.ingest.intake.intake import Intake
from iot_suitcase.ingest.operations.figures import Figures
from iot_suitcase.ingest.operations.status import StatusBoard
from iot_suitcase.ingest.sink.drainer import Drainer
from iot_suitcase.ingest.sink.influx import InfluxWriter, WriteError
from iot_suitcase.ingest.sink.lineprotocol import format_float
from iot_suitcase.ingest.sink.points import PIPELINE, tag_value
from iot_suitcase.ingest.sink.rejects import RejectStore
from iot_suitcase.ingest.wal.committer import Acknowledger, Committer, NoBroker
from iot_suitcase.ingest.wal.idempotency import KEPT_S, PENDING, Answer, IdempotencyKeys
from iot_suitcase.ingest.wal.log import WriteAheadLog
from iot_suitcase.ingest.wal.redelivery import Redeliveries
from iot_suitcase.ingest.wal.waiting import Waiting

log = logging.getLogger(__name__)

_STATUS_INTERVAL_S = 2.0
_FIGURES_EVERY = 5  # status intervals between two suitcase_pipeline points (10 s)


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
        broker: Acknowledger | None = None,
        worker: str = "ingest",
        directory: DeviceDirectory | None = None,
        board: StatusBoard | None = None,
    ) -> None:
        self._wal = wal
        self._rejects = rejects
        self._writer = writer
        self._worker = tag_value(worker)
        directory = directory or DeviceDirectory(None, UnknownDevices.ACCEPT)
        self.board = board or StatusBoard(directory.known)
        self.redeliveries = Redeliveries(recent_limit=remember_keys)
        self.idempotency = IdempotencyKeys()
        waiting = Waiting()
        self._waiting = waiting
        # Disk and SQLite work runs here, off the event loop; close() waits for it before files are closed.
        self._io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="suitcase-io")
        self.intake = Intake(
            decoder,
            directory,
            self.board,
            redeliveries=self.redeliveries,
            idempotency=self.idempotency,
            waiting=waiting,
        )
        self.drainer = Drainer(
            wal,
            writer,
            rejects=rejects,
            idempotency=self.idempotency,
            io=self._io,
            batch_size=batch_size,
            batch_interval_s=batch_interval_s,
            drained=self._room_freed,
        )
        self.committer = Committer(
            waiting,
            wal,
            redeliveries=self.redeliveries,
            broker=broker or NoBroker(),
            rejects=rejects,
            io=self._io,
            max_bytes=wal_max_bytes,
            logged=self.drainer.wake,
        )
        self.submit = self.intake.submit
        self.submit_request = self.intake.submit_request
        self.pong = self.committer.pong
        self.connected = self.redeliveries.connected

    def _room_freed(self) -> None:
        self.committer.room_freed()

    def open(self) -> None:
        """Recover the log, and which of its messages a broker redelivery may still repeat."""
        recovery = self._wal.open()
        self.redeliveries.recover(recovery.records, recovery.mark)
        self.committer.recovered(recovery.mark)
        self._wal.release(self.redeliveries.released)
        self.committer.figures.log_damage = [str(damage) for damage in recovery.damaged]
        for key, at, status, body in self._rejects.answers_since(time.time() - KEPT_S):
            self.idempotency.put(key, Answer(status, body), at)
        for logged in recovery.records:  # logged, not yet drained (else answered): the drainer settles them
            if logged.idempotent and self.idempotency.get(logged.key) is None:
                self.idempotency.put(logged.key, PENDING)
        if self._wal.backlog_records:
            log.info(
                "replaying the write-ahead log records=%d bytes=%d", self._wal.backlog_records, self._wal.backlog_bytes
            )

    @property
    def held(self) -> int:
        """Messages received but not yet in the log (and so not acknowledged)."""
        return len(self._waiting)

    async def run_committer(self) -> None:
        await self.committer.run()

    async def run_drainer(self) -> None:
        await self.drainer.run()

    async def wait_committed(self) -> None:
        await self.committer.wait_committed()

    async def close(self) -> None:
        """Wait for disk work under way (the tasks were cancelled) so the log and store can be closed."""
        await asyncio.get_running_loop().run_in_executor(None, self._io.shutdown, True)

    # --- figures ------------------------------------------------------------------------------------------
    def figures(self) -> Figures:
        taken, logged, sunk = self.intake.figures, self.committer.figures, self.drainer.figures
        return Figures(
            received=taken.received,
            duplicates=taken.duplicates,
            possible_duplicates=taken.possible_duplicates,
            held=len(self._waiting),
            logged=logged.logged,
            acked=logged.acked,
            stored_messages=sunk.stored_messages,
            stored_readings=sunk.stored_readings,
            rejected=taken.rejected + sunk.refused,
            skipped_values=taken.skipped_values,
            write_errors=sunk.write_errors,
            batches=sunk.batches,
            influx_ok=sunk.influx_ok,
            log_full=logged.log_full,
            log_error=logged.log_error,
            store_error=sunk.store_error,
            log_damage=list(logged.log_damage),
            write_latency_ms=sunk.write_latency_ms,
            backlog_records=self._wal.backlog_records,
            backlog_bytes=self._wal.backlog_bytes,
        )

    async def run_status(self) -> None:
        """A status line whenever something changed, and the figures into InfluxDB every 10 s."""
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
        s = self.figures()
        fields = {
            "received": s.received,
            "acked": s.acked,
            "duplicates": s.duplicates,
            "stored_readings": s.stored_readings,
            "rejected": sum(s.rejected.values()),
            "backlog_records": s.backlog_records,
            "backlog_bytes": s.backlog_bytes,
            "write_latency_ms": s.write_latency_ms,
            "influx_ok": int(s.influx_ok),
        }
        values = ",".join(f"{name}={format_float(float(value))}" for name, value in fields.items())
        try:
            await self._writer.write(f"{PIPELINE},worker={self._worker} {values} {time.time_ns()}")
        except WriteError as error:
            log.debug("pipeline figures not written error=%s", error)

    def status_line(self) -> str:
        s = self.figures()
        return (
            f"received={s.received} acked={s.acked} duplicates={s.duplicates} "
            f"possible_duplicates={s.possible_duplicates} held={s.held} "
            f"backlog_records={s.backlog_records} backlog_bytes={s.backlog_bytes} "
            f"stored_readings={s.stored_readings} rejected={sum(s.rejected.values())} "
            f"influx={'ok' if s.influx_ok else 'failing'} log_full={s.log_full} "
            f"log_writable={s.log_error is None}"
        )
