"""What the write-ahead log holds: one record per handled message, its points or its reject.

Every record keeps the message as it arrived (topic, raw payload, receive time), so a point that InfluxDB
refuses later still becomes a complete reject. Its key is derived from (topic, payload, MQTT packet id):
the broker redelivers an unacknowledged message with the same packet id, so the key recognises a
redelivery of a message that the log already holds.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from typing import Final, TypeVar

KEY_BYTES: Final = 16
POINTS: Final = 1
REJECT = 2
MARK: Final = 3  # not a message: the log's note of how far redelivery recognition is no longer needed
IDEMPOTENT: Final = 0x80  # flag on POINTS/REJECT: an HTTP message whose key is its client's Idempotency-Key

# kind | key | receive time (us since epoch) | topic length | payload length
_HEAD: Final = struct.Struct(f"<B{KEY_BYTES}sqHI")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
P = TypeVar("P")


def message_key(topic: str, payload: bytes, mid: int) -> bytes:
    # one hash over topic, NUL, packet id (4 bytes, little-endian), payload
    head = topic.encode("utf-8", "surrogateescape") + b"\0" + mid.to_bytes(4, "little")
    return blake2b(head + payload, digest_size=KEY_BYTES).digest()


@dataclass(frozen=True, slots=True)
class Reject:
    """A message that was not stored, with everything needed to understand it or replay it."""

    topic: str
    payload: bytes
    received_at: datetime
    device_id: str | None
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Record:
    """A decoded log record: reading ``lines`` or a ``reject``, plus bookkeeping lines for either.

    ``bookkeeping`` holds the platform's own points about the message (``suitcase_uplinks`` for a stored
    one, ``suitcase_rejects`` for a rejected one): written with the readings, never counted as readings.
    """

    kind: int
    key: bytes
    topic: str
    payload: bytes
    received_at: datetime
    lines: list[str]
    reject: Reject | None
    bookkeeping: list[str]


def kind_of(body: bytes) -> int:
    return body[0] & ~IDEMPOTENT


def is_idempotent(body: bytes) -> bool:
    return bool(body[0] & IDEMPOTENT)


def idempotency_key(device_id: str, client_key: str) -> bytes:
    """The log key of an HTTP message sent with ``Idempotency-Key``: the same for every retry of it."""
    return blake2b(b"idempotency\0" + device_id.encode() + b"\0" + client_key.encode(), digest_size=KEY_BYTES).digest()


def _micros(moment: datetime) -> int:
    since = moment - _EPOCH  # since // timedelta(microseconds=1), in integer arithmetic (test_records.py)
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


def _encode(kind: int, key: bytes, *, topic: str, payload: bytes, received_at: datetime, tail: bytes) -> bytes:
    topic_bytes = topic.encode("utf-8", "surrogateescape")
    head = _HEAD.pack(kind, key, _micros(received_at), len(topic_bytes), len(payload))
    return b"".join((head, topic_bytes, payload, tail))


_READINGS: Final = struct.Struct("<H")


def points_record(
    key: bytes,
    topic: str,
    payload: bytes,
    received_at: datetime,
    lines: list[str],
    *,
    bookkeeping: list[str],
    idempotent: bool = False,
) -> bytes:
    # reading lines, then bookkeeping lines; line protocol lines never contain a newline
    tail = _READINGS.pack(len(lines)) + "\n".join(lines + bookkeeping).encode()
    kind = POINTS | (IDEMPOTENT if idempotent else 0)
    return _encode(kind, key, topic=topic, payload=payload, received_at=received_at, tail=tail)


def reject_record(key: bytes, reject: Reject, bookkeeping: list[str], *, idempotent: bool = False) -> bytes:
    detail = json.dumps(
        {"device": reject.device_id, "code": reject.code, "reason": reject.reason, "bookkeeping": bookkeeping}
    ).encode()
    kind = REJECT | (IDEMPOTENT if idempotent else 0)
    return _encode(kind, key, topic=reject.topic, payload=reject.payload, received_at=reject.received_at, tail=detail)


def record_key(body: bytes) -> bytes:
    return body[1 : 1 + KEY_BYTES]


_MARK = struct.Struct("<BQQ")


def mark_record(segment: int, offset: int) -> bytes:
    return _MARK.pack(MARK, segment, offset)


def mark_position(body: bytes, position: Callable[[int, int], P]) -> P:
    _kind, segment, offset = _MARK.unpack(body)
    return position(segment, offset)


def well_formed(body: bytes) -> bool:
    """Whether a body's lengths agree with its size (a cheap check before its CRC, when resyncing)."""
    if body[0] == MARK:
        return len(body) == _MARK.size
    if kind_of(body) not in (POINTS, REJECT):
        return False
    if len(body) < _HEAD.size:
        return False
    _kind, _key, _micros, topic_length, payload_length = _HEAD.unpack_from(body)
    tail: int = len(body) - _HEAD.size - topic_length - payload_length
    return tail >= (_READINGS.size if kind_of(body) == POINTS else 2)


def points_text(body: bytes) -> tuple[int, bytes]:
    """A points record's reading count and its lines (readings, then bookkeeping) as the UTF-8 line protocol
    they are kept as: what the drainer writes, without decoding the record (``decode_record`` gives the same)."""
    _kind, _key, _micros, topic_length, payload_length = _HEAD.unpack_from(body)
    start = _HEAD.size + topic_length + payload_length
    (readings,) = _READINGS.unpack_from(body, start)
    return readings, body[start + _READINGS.size :]


def decode_record(body: bytes) -> Record:
    flagged, key, micros, topic_length, payload_length = _HEAD.unpack_from(body)
    kind = flagged & ~IDEMPOTENT
    start = _HEAD.size
    topic = body[start : start + topic_length].decode("utf-8", "surrogateescape")
    payload = body[start + topic_length : start + topic_length + payload_length]
    tail = body[start + topic_length + payload_length :]
    received_at = _EPOCH + timedelta(microseconds=micros)
    if kind == POINTS:
        (readings,) = _READINGS.unpack_from(tail)
        text = tail[_READINGS.size :]
        # a status-only uplink (e.g. a device's info frame after joining) is accepted with no readings
        lines = text.decode().split("\n") if text else []
        return Record(kind, key, topic, payload, received_at, lines[:readings], None, lines[readings:])
    detail = json.loads(tail)
    reject = Reject(topic, payload, received_at, detail["device"], detail["code"], detail["reason"])
    return Record(kind, key, topic, payload, received_at, [], reject, detail["bookkeeping"])
