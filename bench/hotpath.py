"""Issue #20's hot path in process, each hand-written part beside the library or general path it replaces.

No servers: the same inputs go through both variants of a pair, round by round, in one process, and the
best round of each counts (what the code costs when the machine lets it run). The drains measure the whole
service but swing 10 to 30 % between runs on a shared machine; a part that saves 3 µs of 40 per message
cannot show there, and does here. Every pair's outputs are compared first (the tests prove them equal with
hypothesis; this only guards the benchmark against measuring two different things).
"""

from __future__ import annotations

import asyncio
import math
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from bench.fleet import payload3
from bench.mqtt import publish_packet
from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.reading import Reading
from iot_suitcase.devices.timestamps import parse_timestamp
from iot_suitcase.ingest import heap
from iot_suitcase.ingest.intake.directory import DeviceDirectory, UnknownDevices
from iot_suitcase.ingest.intake.intake import Intake
from iot_suitcase.ingest.operations.status import StatusBoard
from iot_suitcase.ingest.sink.batch import batch_of, record_text
from iot_suitcase.ingest.sink.points import reading_line, reading_lines, time_ns
from iot_suitcase.ingest.sources.mqttclient import LeanClient
from iot_suitcase.ingest.wal.idempotency import IdempotencyKeys
from iot_suitcase.ingest.wal.records import decode_record
from iot_suitcase.ingest.wal.redelivery import Redeliveries
from iot_suitcase.ingest.wal.waiting import Waiting

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHUNK = 60_000  # bytes of PUBLISH packets written at a time (a socket pair's buffer holds them)


def run(messages: int, rounds: int, devices: int) -> dict[str, Any]:
    """Per-call µs of each pair (best of ``rounds``), the intake's whole per-message cost, and the gains."""
    heap.settle()  # the collector as `suitcase ingest` sets it
    now = datetime.now(UTC)
    base_ms = int((now - timedelta(days=1)).timestamp() * 1000)
    sample = [(f"suitcase/dev-{k % devices:04d}/up", payload3(k, base_ms + k)) for k in range(messages)]
    decoder = Decoder()
    decoded = [decoder.decode_message(Message(payload=p, received_at=now, topic=t)) for t, p in sample]
    fields = [(r.device_id, r.time, r.quantity, r.value, r.unit) for outcome in decoded for r in outcome.readings]
    stamps = [base_ms + k for k in range(messages)]
    moments = [_EPOCH + timedelta(microseconds=k * 1_001_003) for k in range(messages)]
    bodies = [entry.record for entry in _intake_entries(sample) if entry.record is not None]
    stream = b"".join(publish_packet(topic.encode(), n, payload, v5=True) for n, (topic, payload) in enumerate(sample))

    pairs: dict[str, tuple[str, Callable[[], object], Callable[[], object], int]] = {
        "reading": (
            "Reading.checked vs Reading.model_construct, per reading",
            lambda: [Reading.checked(*f) for f in fields],
            lambda: [
                Reading.model_construct(device_id=d, time=t, quantity=q, value=v, unit=u) for d, t, q, v, u in fields
            ],
            len(fields),
        ),
        "decode": (
            "Decoder.decode_plain vs decode_message (3 readings), per message",
            lambda: [decoder.decode_plain(t, p, now) for t, p in sample],
            lambda: [decoder.decode_message(Message(payload=p, received_at=now, topic=t)) for t, p in sample],
            messages,
        ),
        "mqtt": (
            "the consumer's reader vs paho framing every packet, the same PUBLISH stream, per message",
            lambda: _read_stream(LeanClient, stream),
            lambda: _read_stream(_PahoFraming, stream),
            messages,
        ),
        "lines": (
            "reading_lines vs reading_line per reading, per message",
            lambda: [reading_lines(outcome.readings, None) for outcome in decoded],
            lambda: [[reading_line(r, None) for r in outcome.readings] for outcome in decoded],
            messages,
        ),
        "epoch": (
            "parse_timestamp of epoch ms vs the same checks with the epoch + timedelta, per stamp",
            lambda: [parse_timestamp(ms) for ms in stamps],
            lambda: [_epoch_by_timedelta(ms) for ms in stamps],
            messages,
        ),
        "time_ns": (
            "time_ns vs timedelta division, per moment",
            lambda: [time_ns(moment) for moment in moments],
            lambda: [(moment - _EPOCH) // timedelta(microseconds=1) * 1000 for moment in moments],
            messages,
        ),
        "batch": (
            "batch_of (lines as logged) vs each record decoded and joined, per record",
            lambda: batch_of(bodies).text,
            lambda: "\n".join(filter(None, (record_text(decode_record(body)) for body in bodies))),
            len(bodies),
        ),
    }
    results: dict[str, Any] = {}
    for name, (what, mine, theirs, count) in pairs.items():
        if mine() != theirs():
            raise RuntimeError(f"hot path: the two variants of {name!r} disagree")
        best_mine = best_theirs = float("inf")
        for _ in range(rounds):  # interleaved, so a slower moment of the machine hits both
            best_mine = min(best_mine, _timed(mine))
            best_theirs = min(best_theirs, _timed(theirs))
        results[name] = {
            "what": what,
            "hand_written_us": round(best_mine * 1e6 / count, 2),
            "library_us": round(best_theirs * 1e6 / count, 2),
            "saved_us": round((best_theirs - best_mine) * 1e6 / count, 2),
        }
    intake = min(_timed(lambda: _intake_entries(sample)) for _ in range(rounds))
    return {
        "messages": messages,
        "rounds": rounds,
        "pairs": results,
        "intake_submit_us": round(intake * 1e6 / messages, 2),
    }


def _epoch_by_timedelta(raw: float | str) -> datetime:
    """``parse_timestamp`` of an epoch number as it was before #20: the same checks, the moment as the epoch
    plus a timedelta."""
    if isinstance(raw, str) or not math.isfinite(raw) or raw < 0 or raw >= 1e14:
        raise ValueError(raw)
    return _EPOCH + timedelta(seconds=raw / 1000 if raw >= 1e11 else raw)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _intake_entries(sample: list[tuple[str, bytes]]) -> list[Any]:
    """Every message through a fresh ``Intake.submit`` (as the MQTT callback calls it, QoS 1)."""

    async def submit_all() -> list[Any]:
        directory = DeviceDirectory(None, UnknownDevices.ACCEPT)
        waiting = Waiting()
        intake = Intake(
            Decoder(),
            directory,
            StatusBoard(directory.known),
            redeliveries=Redeliveries(recent_limit=100_000),
            idempotency=IdempotencyKeys(),
            waiting=waiting,
        )
        return [intake.submit(topic, payload, mid=n % 65535 + 1, qos=1) for n, (topic, payload) in enumerate(sample)]

    return asyncio.run(submit_all())


class _PahoFraming(LeanClient):
    """``LeanClient`` without ``read_buffered`` and the whole-packet path: paho frames every packet (one
    ``loop_read`` each, its per-packet state), as the consumer read before #20."""

    def _buffered_publish(self) -> paho.MQTTMessage | None:
        return None


def _read_stream(kind: type[LeanClient], stream: bytes) -> list[tuple[bytes, bytes | bytearray, int]]:
    """``stream`` written into a socket pair a chunk at a time and read as the ingest consumer reads it."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    got: list[tuple[bytes, bytes | bytearray, int]] = []
    client = kind(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="bench",
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )
    client._sock = ours
    client.on_message = lambda _client, _userdata, message: got.append((message._topic, message.payload, message.mid))
    if kind is LeanClient:  # as the consumer reads: a property-less QoS 1 PUBLISH handed on as its parts
        client.on_publish_parts = lambda topic, payload, mid, _dup: got.append((topic.encode(), payload, mid))
    try:
        for start in range(0, len(stream), _CHUNK):
            theirs.sendall(stream[start : start + _CHUNK])
            client.loop_read()
            while client.buffered():  # as MqttConsumer._read_turn reads
                if client.read_buffered(100) == 0:
                    client.loop_read()
    finally:
        ours.close()
        theirs.close()
    return got
