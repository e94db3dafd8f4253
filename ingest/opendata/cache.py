"""Answers of the public side kept for a few seconds (#19 point 5: cached where it can be): a flood asks the same
few URLs again and again, and each asking again costs InfluxDB a query. Bounded in entries and bytes; an entry
lives ``ttl_s`` (a withdrawal is public within that time)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class AnswerCache:
    def __init__(
        self, ttl_s: float = 10.0, max_bytes: int = 32 * 2**20, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] > self.ttl_s:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self._max_bytes // 8:  # one answer never takes more than an eighth
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (self._clock(), body)
        self._bytes += len(body)
        while self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        _, body = self._entries.pop(key)
        self._bytes -= len(body)
