"""What the drainer writes for records read from the log: one line-protocol text, its counts, the rejects."""

from __future__ import annotations

from dataclasses import dataclass

from iot_suitcase.ingest.wal.records import MARK, POINTS, Record, Reject, decode_record, is_idempotent


def record_text(record: Record) -> str:
    """A record's points as line protocol: its reading lines, then its bookkeeping lines."""
    return "\n".join((*record.lines, *record.bookkeeping))


@dataclass(frozen=True, slots=True)
class Batch:
    """Records read from the log as one write: its text, its counts, the rejects among them."""

    bodies: list[bytes]
    text: str
    messages: int  # stored messages (points records)
    readings: int  # reading lines, bookkeeping not counted
    rejects: list[tuple[bytes, Reject]]
    records: list[Record]  # decoded once: a refused write splits them, HTTP answers come from the idempotent
    idempotent: list[Record]


def batch_of(bodies: list[bytes]) -> Batch:
    """The records (as the log holds them) as one write; the log's own marks are left out."""
    parts: list[str] = []
    messages = readings = 0
    rejects: list[tuple[bytes, Reject]] = []
    records: list[Record] = []
    idempotent: list[Record] = []
    for body in bodies:
        if body[0] == MARK:
            continue  # the log's own note, not a message
        record = decode_record(body)
        records.append(record)
        if is_idempotent(body):
            idempotent.append(record)
        messages += record.kind == POINTS
        readings += len(record.lines)
        if record.reject is not None:
            rejects.append((record.key, record.reject))
        text = record_text(record)
        if text:
            parts.append(text)
    return Batch(bodies, "\n".join(parts), messages, readings, rejects, records, idempotent)
