"""The first stage: a message becomes a log record (its points, or a reject with its reason), or is
recognised as a broker redelivery of a message the log already holds; then it waits for the committer."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from iot_suitcase.devices.decode import AUTO, Decoder, Outcome
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats import Message
from iot_suitcase.ingest.intake.directory import DeviceDirectory
from iot_suitcase.ingest.sink.points import reading_lines, reject_line, time_ns, uplink_line
from iot_suitcase.ingest.sink.rejects import bounded, log_reject
from iot_suitcase.ingest.wal.idempotency import PENDING, IdempotencyKeys
from iot_suitcase.ingest.wal.records import Reject, message_key, points_record, reject_record
from iot_suitcase.ingest.wal.redelivery import Redeliveries, Verdict
from iot_suitcase.ingest.wal.waiting import Entry, Waiting

log = logging.getLogger(__name__)
# Refusals that a device registered a moment ago (or given its gateway) would lift: look at the registry again.
_REFRESHABLE = frozenset({RejectCode.UNKNOWN_DEVICE, RejectCode.DEVICE_MISMATCH})


@dataclass(slots=True)
class IntakeFigures:
    received: int = 0
    duplicates: int = 0  # broker redeliveries recognised, acknowledged and not stored again
    possible_duplicates: int = 0  # stored, though they may repeat a stored message (see redelivery.py)
    rejected: Counter[str] = field(default_factory=Counter)
    skipped_values: int = 0  # values formats read past on purpose (SenML string records): not lost unseen


@dataclass(frozen=True, slots=True)
class DeviceRequest:
    """A message a device sent over HTTP: who sent it (the transport authenticated it), in which format."""

    device_id: str
    format: str
    origin: str  # how it came, e.g. "POST /v1/devices/<id>/readings": kept where an MQTT message keeps its topic
    payload: bytes
    idempotency: bytes | None = None  # the log key of its Idempotency-Key (records.py), if it sent one


class Watcher(Protocol):
    """Who is told of each message as it is taken in (the status board staff look at)."""

    def stored(self, outcome: Outcome, received_at: datetime, /) -> None: ...

    def rejected(self, reject: Reject, /) -> None: ...


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


class Intake:
    """Decodes, validates and records each message as it arrives, and queues it for the committer."""

    def __init__(
        self,
        decoder: Decoder,
        directory: DeviceDirectory,
        board: Watcher,
        *,
        redeliveries: Redeliveries,
        idempotency: IdempotencyKeys,
        waiting: Waiting,
    ) -> None:
        self._decoder = decoder
        self._directory = directory
        self._board = board
        self._redeliveries = redeliveries
        self._idempotency = idempotency
        self._waiting = waiting
        self._clock = ReceiveClock()
        self.figures = IntakeFigures()

    def submit(  # noqa: PLR0917 - the MQTT hand-over calls it per message, positionally (sources/mqtt.py)
        self, topic: str, payload: bytes, mid: int = 0, qos: int = 0, dup: bool = False, generation: int = 0
    ) -> Entry:
        """Handle one MQTT message as it arrives (synchronous: runs inside the MQTT read callback)."""
        self.figures.received += 1
        key = message_key(topic, payload, mid)
        redeliveries = self._redeliveries
        if qos:
            redeliveries.arrived(generation, dup)
        verdict = redeliveries.classify(key, dup)
        if verdict is Verdict.REDELIVERY:
            self.figures.duplicates += 1
            redeliveries.redelivered(key, generation)
            entry = Entry(mid, qos, generation, None, key=key)
        else:
            if verdict is Verdict.POSSIBLE_DUPLICATE:
                self.figures.possible_duplicates += 1
            received_at = self._clock.now()
            plain = self._plain(topic, payload, received_at)
            if plain is not None and self._directory.admit(plain.device_id) is None:
                record, reject = self._points(key, topic, payload, received_at, plain, idempotent=False)
            else:
                message = Message(payload=payload, received_at=received_at, topic=topic)
                record, reject = self._record(key, topic, message, AUTO, idempotent=False)
            entry = Entry(mid, qos, generation, record, reject, key=key)
            if qos:
                redeliveries.accepted(key, mid)
        self._waiting.put(entry)
        return entry

    def _submit_request(self, request: DeviceRequest) -> Entry:
        self.figures.received += 1
        key = request.idempotency
        idempotent = key is not None
        if key is None:
            key = message_key(request.origin, request.payload, 0)
        message = Message(payload=request.payload, received_at=self._clock.now(), sender=request.device_id)
        record, reject = self._record(key, request.origin, message, request.format, idempotent=idempotent)
        entry = Entry(0, 0, 0, record, reject, key=key)
        if request.idempotency is not None:
            self._idempotency.put(key, PENDING)
        self._waiting.put(entry)
        return entry

    def _plain(self, topic: str, payload: bytes, received_at: datetime) -> Outcome | None:
        """The message decoded on the decoder's path for the commonest form, if it is in that form."""
        try:
            return self._decoder.decode_plain(topic, payload, received_at)
        except Exception:  # a bug there must cost nothing: the general path reads the message
            log.exception("plain decoding crashed topic=%s", topic)
            return None

    def _record(
        self, key: bytes, origin: str, message: Message, fmt: str, *, idempotent: bool
    ) -> tuple[bytes, Reject | None]:
        """The message's log record, and its reject when it has one."""
        payload, received_at = message.payload, message.received_at
        try:
            outcome, refusal = self._admitted(message, fmt)
        except Exception as error:
            return self._failed(key, origin, payload, received_at, error, idempotent=idempotent)
        if refusal is not None:
            code, reason = refusal
            reject = Reject(origin, payload, received_at, outcome.device_id, code, reason)
            return self._reject(key, reject, idempotent=idempotent)
        return self._points(key, origin, payload, received_at, outcome, idempotent=idempotent)

    def _points(
        self, key: bytes, origin: str, payload: bytes, received_at: datetime, outcome: Outcome, *, idempotent: bool
    ) -> tuple[bytes, Reject | None]:
        """The log record of an admitted message: its reading lines and a ``suitcase_uplinks`` point per device."""
        try:
            parts = outcome.by_device()
            for part in parts:
                self._directory.learn_kind(part.device_id, part.readings)
            lines = [reading_lines(part.readings, self._directory.tags(part.device_id)) for part in parts]
        except Exception as error:
            return self._failed(key, origin, payload, received_at, error, idempotent=idempotent)
        self.figures.skipped_values += outcome.skipped
        uplinks = []
        stamp = time_ns(received_at)
        for part, part_lines in zip(parts, lines, strict=True):
            self._board.stored(part, received_at)
            uplinks.append(
                uplink_line(
                    part.device_id,
                    self._directory.uplink_tags(part.device_id),
                    part.format,
                    readings=len(part_lines),
                    size=len(payload),
                    time=stamp,
                )
            )
        every_line = lines[0] if len(lines) == 1 else [line for part_lines in lines for line in part_lines]
        body = points_record(key, origin, payload, received_at, every_line, bookkeeping=uplinks, idempotent=idempotent)
        return body, None

    def _failed(
        self, key: bytes, origin: str, payload: bytes, received_at: datetime, error: Exception, *, idempotent: bool
    ) -> tuple[bytes, Reject]:
        """The reject of a message its decoding refused, or (a bug in a decoder must cost one message, never
        the service) crashed on."""
        if isinstance(error, DecodeError):
            reject = Reject(origin, payload, received_at, error.device_id, error.code, error.reason)
        else:
            log.error("decoder crashed origin=%s", origin, exc_info=error)
            reason = f"internal decoder error: {error!r}"
            reject = Reject(origin, payload, received_at, None, RejectCode.UNKNOWN_FORMAT, reason)
        return self._reject(key, reject, idempotent=idempotent)

    def _admitted(self, message: Message, fmt: str) -> tuple[Outcome, tuple[RejectCode, str] | None]:
        """The decoded message and its refusal, if any. A device nobody knows (or a LoRaWAN device without a
        codec) may have been registered a moment ago: the registry is looked at again first (one stat)."""
        try:
            outcome = self._decoder.decode_message(message, fmt)
        except DecodeError as error:
            if error.code != RejectCode.NO_CODEC or not self._directory.refresh(self._decoder):
                raise
            outcome = self._decoder.decode_message(message, fmt)
        refusal = self._refusal(outcome)
        if refusal is not None and refusal[0] in _REFRESHABLE and self._directory.refresh(self._decoder):
            outcome = self._decoder.decode_message(message, fmt)  # its model may have come with it
            refusal = self._refusal(outcome)
        return outcome, refusal

    def _refusal(self, outcome: Outcome) -> tuple[RejectCode, str] | None:
        """Why the sender, or a device whose readings it relays, may not be stored; None when all may."""
        refusal = self._directory.admit(outcome.device_id)
        for device_id in outcome.relayed:
            refusal = refusal or self._directory.admit_relayed(outcome.device_id, device_id)
        return refusal

    def _reject(self, key: bytes, reject: Reject, *, idempotent: bool) -> tuple[bytes, Reject]:
        if len(reject.payload) > self._decoder.options.max_payload_bytes:
            reject = bounded(reject)
        self._board.rejected(reject)
        self.figures.rejected[reject.code] += 1
        log_reject(reject)
        site = self._directory.site(reject.device_id)
        bookkeeping = [reject_line(reject.code, reject.device_id, site, time_ns(reject.received_at))]
        return reject_record(key, reject, bookkeeping, idempotent=idempotent), reject

    def take_in(self, topic: str, payload: bytes, received_at: datetime) -> Entry:
        """A message kept while its device was not registered, handled as if it arrived at ``received_at``
        (its readings and bookkeeping get the times they would have had). ``entry.committed`` resolves once it
        is in the log. Taken in twice (a crash before its reject was forgotten), it makes the same points, which
        InfluxDB stores once."""
        key = message_key(topic, payload, 0)
        message = Message(payload=payload, received_at=received_at, topic=topic)
        record, reject = self._record(key, topic, message, AUTO, idempotent=False)
        entry = Entry(0, 0, 0, record, reject, key=key)
        entry.committed = asyncio.get_running_loop().create_future()
        self._waiting.put(entry)
        return entry

    async def submit_request(self, request: DeviceRequest, timeout: float) -> Entry:
        """Take in a message that has no broker behind it (HTTP) and wait until it is durably logged.

        Raises ``TimeoutError`` if the log has no room in time; the message is then dropped before it is
        logged (the caller answers 503 and the client retries), never stored twice. One that the committer
        has already taken is being logged: that one is waited for, since its retry would be a duplicate.
        """
        entry = self._submit_request(request)
        entry.committed = asyncio.get_running_loop().create_future()
        while True:
            try:
                await asyncio.wait_for(asyncio.shield(entry.committed), timeout)
            except TimeoutError:
                if entry.taken:
                    continue  # being written; a failed write hands it back (taken False) and we give up then
                if not entry.committed.done():
                    entry.cancelled = True
                    if request.idempotency is not None:
                        self._idempotency.forget(request.idempotency)
                    raise
            return entry
