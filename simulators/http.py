"""Posting readings to the ingest service's HTTP API (aiohttp), as devices and the airrohr firmware do.

The contract: ``POST /v1/devices/{device_id}/readings`` with the device's API key (``Authorization:
Bearer``), a native or sensor.community JSON body (``application/json``) or SenML
(``application/senml+json``); the airrohr firmware's "send to own API" posts to ``POST /v1/sensor-community``
with ``X-Sensor: esp8266-<chip id>``, ``X-PIN`` and HTTP basic auth (the device id and its API key).
202 means durably accepted, 400 ``{"error": code}`` a kept reject; 429 is answered by waiting (Retry-After)
and sending again, 5xx and broken connections by retrying with backoff.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from iot_suitcase.devices.formats import FORMATS as PAYLOAD_FORMATS
from iot_suitcase.simulators.formats import FORMATS
from iot_suitcase.simulators.model import Outgoing

# the formats a device may POST (native, senml, sensor_community), each with its own Content-Type
HTTP_FORMATS = tuple(name for name in FORMATS if PAYLOAD_FORMATS[name].content_types)
_ACCEPTED, _REJECTED, _TOO_MANY, _BUSY = 202, 400, 429, 503


class HttpError(RuntimeError):
    """The HTTP side cannot work (no API key for a device, the server unreachable for good)."""


@dataclass(frozen=True, slots=True)
class HttpOptions:
    url: str = "http://127.0.0.1:8080"
    concurrency: int = 16
    timeout_s: float = 10.0
    retries: int = 5  # for 5xx and network errors; 429 waits as long as the server asks


@dataclass(slots=True)
class HttpStats:
    """What the server answered, by status, and which reject codes it gave."""

    sent: int = 0
    accepted: int = 0  # 202
    rejected: Counter[str] = field(default_factory=Counter)  # 400, by the server's code
    refused: Counter[int] = field(default_factory=Counter)  # 401/403/404/413/415
    failed: int = 0  # gave up after retries
    retried_429: int = 0
    unexpected: list[str] = field(default_factory=list)  # answers other than the message's expected outcome

    @property
    def acknowledged(self) -> int:
        return self.accepted + sum(self.rejected.values())


def load_api_keys(path: Path) -> dict[str, str]:
    """Device id -> API key: JSON lines as `suitcase devices credentials ID --json` prints them, or one
    JSON object mapping device ids to keys."""
    text = path.read_text(encoding="utf-8").strip()
    try:
        whole = json.loads(text) if text else {}
    except ValueError:
        whole = None
    if isinstance(whole, dict) and "device_id" not in whole:
        return {str(device): str(key) for device, key in whole.items()}
    keys = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            keys[str(entry["device_id"])] = str(entry["api_key"])
        except (ValueError, KeyError, TypeError):
            raise HttpError(f"{path}, line {number}: expected a JSON object with device_id and api_key") from None
    return keys


def _pin(message: Outgoing) -> str:
    """The firmware's X-PIN: which pin the sensor of the first value hangs on (SDS011 1, BME280 11, DNMS 15)."""
    quantities = set(message.device.quantities)
    if quantities & {"pm1", "pm2_5", "pm4", "pm10"}:
        return "1"
    if quantities & {"noise_laeq", "noise_lamax"}:
        return "15"
    return "11"


def request_for(message: Outgoing, url: str, api_key: str) -> tuple[str, dict[str, str]]:
    """URL and headers of one message (API key as a bearer token, or basic auth for the airrohr route)."""
    device = message.device
    if device.format == "sensor_community":
        basic = base64.b64encode(f"{device.id}:{api_key}".encode()).decode()
        headers = {
            "Content-Type": PAYLOAD_FORMATS[device.format].content_types[0],
            "X-Sensor": device.id,
            "X-PIN": _pin(message),
            "Authorization": f"Basic {basic}",
        }
        return f"{url}/v1/sensor-community", headers
    headers = {"Content-Type": PAYLOAD_FORMATS[device.format].content_types[0], "Authorization": f"Bearer {api_key}"}
    return f"{url}/v1/devices/{device.id}/readings", headers


class HttpSender:
    """Sends messages with bounded concurrency; ``stats`` says what the server made of them."""

    def __init__(self, options: HttpOptions, api_keys: Mapping[str, str]) -> None:
        self.options = options
        self.api_keys = dict(api_keys)
        self.stats = HttpStats()
        self._stranger_key = secrets.token_urlsafe(32)  # what an unregistered device presents

    def key_for(self, message: Outgoing) -> str:
        if message.device.ghost:
            return self._stranger_key
        key = self.api_keys.get(message.device.id)
        if key is None:
            raise HttpError(
                f"no API key for {message.device.id}: give --api-keys FILE (from `suitcase devices credentials "
                "ID --json`) or --issue-credentials"
            )
        return key

    async def run(
        self, messages: Iterable[Outgoing], wait_until: Callable[[Outgoing], Awaitable[None]], done: Callable[[], None]
    ) -> None:
        """Send every sendable message after ``wait_until(message)``; ``done()`` after each answer."""
        timeout = aiohttp.ClientTimeout(total=self.options.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.options.concurrency)
        slots = asyncio.Semaphore(self.options.concurrency)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            tasks: set[asyncio.Task[None]] = set()
            for message in messages:
                if not message.sendable:
                    continue
                await wait_until(message)
                await slots.acquire()
                task = asyncio.create_task(self._send(session, message, slots, done))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.gather(*tasks)

    async def _send(
        self, session: aiohttp.ClientSession, message: Outgoing, slots: asyncio.Semaphore, done: Callable[[], None]
    ) -> None:
        try:
            url, headers = request_for(message, self.options.url.rstrip("/"), self.key_for(message))
            self.stats.sent += 1
            status, body = await self._post(session, url, headers, message.payload)
            self._record(message, status, body)
        finally:
            slots.release()
            done()

    async def _post(
        self,
        session: aiohttp.ClientSession,
        url: str,
        headers: dict[str, str],
        payload: bytes,
    ) -> tuple[int | None, bytes]:
        failures = 0
        while True:
            try:
                async with session.post(url, data=payload, headers=headers) as response:
                    body = await response.read()
                    if response.status == _TOO_MANY:  # over the device's rate: wait as asked, as often as asked
                        self.stats.retried_429 += 1
                        await asyncio.sleep(_retry_after(response.headers.get("Retry-After")))
                        continue
                    if response.status < 500:
                        return response.status, body
                    if response.status == _BUSY and failures < self.options.retries:  # the service's log is full
                        failures += 1
                        await asyncio.sleep(_retry_after(response.headers.get("Retry-After")))
                        continue
            except (aiohttp.ClientError, TimeoutError):
                pass
            failures += 1
            if failures > self.options.retries:
                return None, b""
            await asyncio.sleep(min(10.0, 0.2 * 2**failures) * (0.5 + random.random()))  # noqa: S311 - jitter

    def _record(self, message: Outgoing, status: int | None, body: bytes) -> None:
        stats = self.stats
        if status is None:
            stats.failed += 1
            return
        if status == _ACCEPTED:
            stats.accepted += 1
            if message.reject is not None:
                stats.unexpected.append(f"{message.device.id}: accepted, expected {message.reject}")
            return
        if status == _REJECTED:
            code = _error_code(body)
            stats.rejected[code] += 1
            if message.reject != code:
                stats.unexpected.append(f"{message.device.id}: rejected {code}, expected {message.reject or 'stored'}")
            return
        stats.refused[status] += 1
        if not (message.device.ghost and status in (401, 403, 404)):
            stats.unexpected.append(f"{message.device.id}: HTTP {status} {body[:120]!r}")


def _error_code(body: bytes) -> str:
    try:
        found = json.loads(body)
    except ValueError:
        return "unreadable"
    return str(found.get("error", "unreadable")) if isinstance(found, dict) else "unreadable"


def _retry_after(header: str | None) -> float:
    try:
        return max(0.05, min(60.0, float(header))) if header else 1.0
    except ValueError:
        return 1.0
