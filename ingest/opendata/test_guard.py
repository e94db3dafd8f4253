"""The public side's guard, over real HTTP on loopback: one client beyond its rate gets 429 with Retry-After,
and beyond the cap on requests in progress everyone gets 503 without waiting for a slot; other paths are not
touched; a refusal is held a while before it is sent, unless too many are held already."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from iot_suitcase.ingest.opendata.guard import PublicGuard


def app(guard: PublicGuard, release: asyncio.Event) -> web.Application:
    async def slow(_request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"value": []})

    async def quick(_request: web.Request) -> web.Response:
        return web.json_response({"value": []})

    application = web.Application(middlewares=[guard.middleware])
    application.router.add_get("/sta/v1.1/Things", quick)
    application.router.add_get("/sta/v1.1/Slow", slow)
    application.router.add_get("/v1/other", quick)
    return application


async def test_a_client_beyond_its_rate_is_told_when_to_come_back() -> None:
    guard = PublicGuard(rate_per_s=2, concurrency=10, hold_s=0)
    async with TestClient(TestServer(app(guard, asyncio.Event()))) as client:
        statuses = [(await client.get("/sta/v1.1/Things")).status for _ in range(8)]
        assert statuses[:4] == [200, 200, 200, 200], "a burst of twice the rate"
        assert 429 in statuses
        refused = await client.get("/sta/v1.1/Things")
        assert refused.status == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert (await refused.json())["code"] == 429
        others = [(await client.get("/v1/other")).status for _ in range(8)]
        assert others == [200] * 8, "not the public side"


async def test_beyond_the_rate_of_all_clients_together_every_client_is_refused() -> None:
    guard = PublicGuard(rate_per_s=100, concurrency=10, total_rate_per_s=2, hold_s=0)
    async with TestClient(TestServer(app(guard, asyncio.Event()))) as client:
        statuses = [(await client.get("/sta/v1.1/Things")).status for _ in range(8)]
        assert statuses[:4] == [200, 200, 200, 200], "a burst of twice the rate"
        assert 429 not in statuses, "the client is well under its own rate"
        assert statuses.count(503) >= 3, "but over the rate of everyone together"
        refused = await client.get("/sta/v1.1/Things")
        assert refused.status == 503
        assert int(refused.headers["Retry-After"]) >= 1
        assert (await client.get("/v1/other")).status == 200, "not the public side"
        await asyncio.sleep(0.6)
        assert (await client.get("/sta/v1.1/Things")).status == 200, "the bucket fills again"


async def test_beyond_the_requests_in_progress_everyone_is_refused_at_once() -> None:
    release = asyncio.Event()
    guard = PublicGuard(rate_per_s=100, concurrency=2, hold_s=0)
    async with TestClient(TestServer(app(guard, release))) as client:
        slow = [asyncio.create_task(client.get("/sta/v1.1/Slow")) for _ in range(2)]
        await asyncio.sleep(0.2)
        busy = await asyncio.wait_for(client.get("/sta/v1.1/Things"), timeout=5)
        assert busy.status == 503
        assert busy.headers["Retry-After"] == "1"
        release.set()
        assert [(await task).status for task in slow] == [200, 200]
        assert (await client.get("/sta/v1.1/Things")).status == 200
        assert guard.refused == 1


async def test_a_refusal_is_held_before_it_is_sent_unless_too_many_are_held() -> None:
    release = asyncio.Event()
    guard = PublicGuard(rate_per_s=100, concurrency=1, hold_s=2, max_held=1)
    async with TestClient(TestServer(app(guard, release))) as client:
        slow = asyncio.create_task(client.get("/sta/v1.1/Slow"))
        await asyncio.sleep(0.2)
        held = asyncio.create_task(client.get("/sta/v1.1/Things"))
        await asyncio.sleep(0.5)
        assert not held.done(), "the first refusal waits before it is sent"
        assert guard.held == 1
        sent_at_once = await asyncio.wait_for(client.get("/sta/v1.1/Things"), timeout=1.5)
        assert sent_at_once.status == 503, "beyond max_held a refusal is sent without its hold"
        assert not held.done()
        assert (await asyncio.wait_for(held, timeout=5)).status == 503
        assert guard.held == 0
        release.set()
        assert (await slow).status == 200
        assert guard.refused == 2
