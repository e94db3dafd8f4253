"""The open-data server's guard (#19 point 5): every request passes a per-client token bucket (429 with
Retry-After beyond ``rate`` a second) and a cap on how many are served at once, whoever sends them (503 with
Retry-After when all slots are busy, at once rather than queued), so a flood costs at most ``concurrency``
requests in progress, and what they ask of InfluxDB."""

from __future__ import annotations

import asyncio
import math

from aiohttp import web
from aiohttp.typedefs import Handler

from iot_suitcase.ingest.opendata.answers import public_error
from iot_suitcase.ingest.sources.ratelimit import RateLimiter

PUBLIC_PREFIXES = ("/sta/", "/opendata/")


class PublicGuard:
    def __init__(self, rate_per_s: float, concurrency: int) -> None:
        self._clients = RateLimiter(rate_per_s, max(1, math.ceil(2 * rate_per_s)))
        self._slots = asyncio.Semaphore(concurrency)
        self.refused = 0

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(PUBLIC_PREFIXES):
            return await handler(request)
        wait = self._clients.allow(request.remote or "-")
        if wait > 0:
            self.refused += 1
            return _refusal(429, "too many requests from this client", wait)
        if self._slots.locked():
            self.refused += 1
            return _refusal(503, "the open-data service is busy", 1.0)
        async with self._slots:
            return await handler(request)


def _refusal(status: int, message: str, wait_s: float) -> web.Response:
    response = public_error(status, f"{message}; try again")
    response.headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
    return response
