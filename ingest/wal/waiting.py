"""Messages handled by the intake and waiting for the committer: the hand-over between the two stages."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from iot_suitcase.ingest.wal.records import Reject


@dataclass(slots=True, init=False)
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
    reject: Reject | None
    committed: asyncio.Future[None] | None
    cancelled: bool
    taken: bool  # in a group the committer is writing: too late to cancel
    key: bytes  # (topic, payload, packet id), or an HTTP idempotency key: for redelivery recognition

    def __init__(  # its own, compiled: see Outcome in devices/decode.py
        self,
        mid: int,
        qos: int,
        generation: int,
        record: bytes | None,
        reject: Reject | None = None,
        *,
        key: bytes = b"",
    ) -> None:
        self.mid = mid
        self.qos = qos
        self.generation = generation
        self.record = record
        self.reject = reject
        self.committed = None
        self.cancelled = False
        self.taken = False
        self.key = key


class Waiting:
    """Entries in arrival order; the committer wakes when one arrives and tells when it has none left."""

    def __init__(self) -> None:
        self.entries: deque[Entry] = deque()
        self.arrived = asyncio.Event()
        self.idle = asyncio.Event()  # the committer has nothing it can write now

    def put(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.arrived.set()

    def put_back(self, group: list[Entry]) -> None:
        """A group that could not be logged goes first again, in order (the broker holds them all)."""
        for entry in group:
            entry.taken = False
        self.entries.extendleft(reversed(group))

    def __len__(self) -> int:
        return len(self.entries)
