"""Token buckets: per device, so a device stuck in a loop is told to slow down (HTTP 429); and one for a whole
ingest service's MQTT intake, so a tenant over its quota is read more slowly and never starves another."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests per second on average, ``burst`` at once; buckets of idle devices are forgotten."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, key: str) -> float:
        """0.0 if a request may go now (and take a token), else the seconds until one may."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 100_000:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate

    def _forget_full(self, now: float) -> None:
        refill = self._burst / self._rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < refill}


class Pace:
    """At most ``rate`` messages per second on average, a second's worth at once. ``take`` says how long to
    wait before reading on; nothing is refused, so what waits stays queued in the broker, where it is safe."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._clock = clock
        self._tokens = max(rate, 1.0)
        self._updated = clock()
        self.paused_s = 0.0  # how long reading waited in all: the quota at work, on /metrics

    def _refilled(self, now: float) -> float:
        """The tokens at ``now``: what was left, plus the rate since, up to a second's worth."""
        return min(max(self._rate, 1.0), self._tokens + (now - self._updated) * self._rate)

    def available(self) -> int:
        """How many messages may be read now (at least one, so reading never stops for good)."""
        return max(1, int(self._refilled(self._clock())))

    def take(self, messages: int) -> float:
        """Count ``messages`` just read; the seconds to wait before reading more (0.0: read on)."""
        now = self._clock()
        self._tokens = self._refilled(now) - messages
        self._updated = now
        if self._tokens >= 0:
            return 0.0
        wait = -self._tokens / self._rate
        self.paused_s += wait
        return wait
