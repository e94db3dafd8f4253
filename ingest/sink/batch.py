"""What the drainer writes for records read from the log: one line-protocol text, its counts, the rejects."""

from __future__ import annotations

from dataclasses import dataclass

from iot_suitcase.ingest.wal.records import MARK, POINTS, Record, Reject, decode_record, is_idempotent, points_text


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
    idempotent: list[Record]  # decoded: HTTP answers come from them

    def records(self) -> list[Record]:
        """Every record decoded (a refused write splits them): only then, since most batches are stored whole."""
        return [decode_record(body) for body in self.bodies if body[0] != MARK]


def batch_of(bodies: list[bytes]) -> Batch:
    """The records (as the log holds them) as one write; the log's own marks are left out. A points record's
    lines are taken as the log keeps them (UTF-8, one per line); only rejects and HTTP messages are decoded."""
    parts: list[bytes] = []
    messages = readings = 0
    rejects: list[tuple[bytes, Reject]] = []
    idempotent: list[Record] = []
    for body in bodies:
        if body[0] == MARK:
            continue  # the log's own note, not a message
        if body[0] == POINTS:  # neither a reject nor flagged idempotent: the common case
            count, text = points_text(body)
            messages += 1
            readings += count
            if text:
                parts.append(text)
            continue
        record = decode_record(body)
        if is_idempotent(body):
            idempotent.append(record)
        messages += record.kind == POINTS
        readings += len(record.lines)
        if record.reject is not None:
            rejects.append((record.key, record.reject))
        text = record_text(record).encode()
        if text:
            parts.append(text)
    return Batch(bodies, b"\n".join(parts).decode(), messages, readings, rejects, idempotent)
