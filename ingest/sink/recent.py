"""The line protocol of records the intake logged moments ago, so the drainer need not parse them again.

Looked up by the record's exact bytes: a record read back from the log that is found here has exactly the
text kept (``decode_record`` is a function of the bytes alone), and one that is not (after a restart, past
the bound, or a reject) is decoded from the log as before. The log stays the only truth. Only strings and
ints are kept, which the garbage collector does not scan: keeping ``Record`` objects made every young
collection walk the whole backlog.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.wal.records import MARK, POINTS, Record, Reject, decode_record


def record_text(record: Record) -> str:
    """A record's points as line protocol: its reading lines, then its bookkeeping lines."""
    return "\n".join((*record.lines, *record.bookkeeping))


@dataclass(frozen=True, slots=True)
class Batch:
    """What the drainer writes for records read from the log: one text, its counts, the rejects among them."""

    bodies: list[bytes]
    text: str
    messages: int  # stored messages (points records)
    readings: int  # reading lines, bookkeeping not counted
    rejects: list[tuple[bytes, Reject]]


class RecentRecords:
    """Line protocol text and reading count of points records by their bytes, at most ``limit`` of them."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._kept: dict[bytes, tuple[str, int]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def add(self, body: bytes, text: str, readings: int) -> None:
        """Keep a points record's text (``record_text`` of it) and its number of reading lines."""
        if len(self._kept) < self._limit:
            self._kept[body] = (text, readings)

    def forget(self, body: bytes) -> None:
        """A record that will never be logged (its HTTP client gave up)."""
        self._kept.pop(body, None)

    def batch(self, bodies: list[bytes]) -> Batch:
        """The records as one write; each kept text is handed out once, the others are decoded."""
        parts: list[str] = []
        messages = readings = 0
        rejects: list[tuple[bytes, Reject]] = []
        for body in bodies:
            if body[0] == MARK:
                continue  # the log's own note, not a message
            kept = self._kept.pop(body, None)
            if kept is None:
                record = decode_record(body)
                text = record_text(record)
                messages += record.kind == POINTS
                readings += len(record.lines)
                if record.reject is not None:
                    rejects.append((record.key, record.reject))
            else:
                text, count = kept
                messages += 1
                readings += count
            if text:
                parts.append(text)
        return Batch(bodies, "\n".join(parts), messages, readings, rejects)
