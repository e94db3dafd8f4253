"""The open-data server's guard (#19 point 5): every request passes a per-client token bucket (429 with
Retry-After beyond ``rate`` a second), one bucket for all clients together (503 beyond ``total_rate`` a second,
so many addresses at once cannot take more of the machine's CPU than that) and a cap on how many are served at
once, whoever sends them (503 with Retry-After when all slots are busy, at once rather than queued), so a flood
costs at most ``total_rate`` answers a second, ``concurrency`` requests in progress, and what they ask of
InfluxDB.

A refusal is held ``hold_s`` before it is sent (while fewer than ``max_held`` are held; beyond that, sent at
once): a client that asks again as soon as it is answered (most scripts and crawlers) then asks about once a
second instead of hundreds of times, so a flood's refusals cost neither side much CPU. A held refusal is a timer
on the event loop, not a request in progress. A flood of more than ``max_held`` requests a second from clients
that do not wait for their answers still costs one refusal each."""

from __future__ import annotations

import asyncio
import math

from aiohttp import web
from aiohttp.typedefs import Handler

from iot_suitcase.ingest.opendata.answers import public_error
from iot_suitcase.ingest.sources.ratelimit import RateLimiter

PUBLIC_PREFIXES = ("/sta/", "/opendata/")


class PublicGuard:
    def __init__(
        self,
        rate_per_s: float,
        concurrency: int,
        *,
        total_rate_per_s: float | None = None,
        hold_s: float = 1.0,
        max_held: int = 256,
    ) -> None:
        self._clients = RateLimiter(rate_per_s, _burst(rate_per_s))
        self._everyone = None if total_rate_per_s is None else RateLimiter(total_rate_per_s, _burst(total_rate_per_s))
        self._slots = asyncio.Semaphore(concurrency)
        self._hold_s = hold_s
        self._max_held = max_held
        self.held = 0
        self.refused = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(PUBLIC_PREFIXES):
            return await handler(request)
        wait = self._clients.allow(request.remote or "-")
        if wait > 0:
            return await self._refuse(429, "too many requests from this client", wait)
        wait = self._everyone.allow("") if self._everyone is not None else 0.0
        if wait > 0:  # a token comes soon, but to one of many: held the full time, as when every slot is busy
            return await self._refuse(503, "the open-data service has more requests than it answers", self._hold_s)
        if self._slots.locked():
            return await self._refuse(503, "the open-data service is busy", self._hold_s)
        async with self._slots:
            return await handler(request)

    async def _refuse(self, status: int, message: str, wait_s: float) -> web.Response:
        self.refused += 1
        if self.held < self._max_held:
            self.held += 1
            try:
                await asyncio.sleep(min(self._hold_s, wait_s))
            finally:
                self.held -= 1
        return _refusal(status, message, wait_s)


def _burst(rate_per_s: float) -> int:
    """Twice a second's worth: a client's page of requests goes through, a sustained flood does not."""
    return max(1, math.ceil(2 * rate_per_s))


def _refusal(status: int, message: str, wait_s: float) -> web.Response:
    response = public_error(status, f"{message}; try again")
    response.headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
    return response
