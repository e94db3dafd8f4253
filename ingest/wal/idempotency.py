"""HTTP ``Idempotency-Key``: a client that retries a POST whose answer it never saw gets the first answer again,
and the message is stored once.

The key is part of the logged record (records.py: its log key, and the IDEMPOTENT flag), so it is durable
the moment the message is; when the drainer lets the record go, its answer moves to the service's SQLite
store and is kept for a day. In memory: the answers of the last day, at most ``limit`` of them.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

KEPT_S: Final = 24 * 3600
LIMIT: Final = 100_000


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str  # JSON


PENDING: Final = Answer(0, "")  # logged or being logged; its answer is not known yet


class IdempotencyKeys:
    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._answers: OrderedDict[bytes, tuple[float, Answer]] = OrderedDict()

    def get(self, key: bytes, now: float | None = None) -> Answer | None:
        found = self._answers.get(key)
        if found is None:
            return None
        at, answer = found
        if (now or time.time()) - at > KEPT_S:
            del self._answers[key]
            return None
        return answer

    def put(self, key: bytes, answer: Answer, at: float | None = None) -> None:
        self._answers[key] = (at or time.time(), answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self._limit:
            self._answers.popitem(last=False)

    def forget(self, key: bytes) -> None:
        """A request that was answered 503 before its message was logged: its retry is a new message."""
        self._answers.pop(key, None)

    def __len__(self) -> int:
        return len(self._answers)
