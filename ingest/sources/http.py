"""HTTP ingestion for devices that cannot speak MQTT: same validation and write-ahead path as MQTT.

- ``POST /v1/devices/{device_id}/readings`` with the device's API key (``Authorization: Bearer`` or
  ``X-API-Key``); native JSON or sensor.community JSON (``application/json``) or SenML
  (``application/senml+json``).
- ``POST /v1/sensor-community``: what the airrohr firmware's "send to own API" setting posts: basic auth
  (user = device id ``esp8266-<chipid>``, password = its API key), ``X-Sensor: esp8266-<chipid>``.

202 once the message is durably logged; 400 (kept as a reject), 401 (no key, a wrong key, another
device's key or an unknown device: one answer, so nobody learns which devices exist), 403 (X-Sensor names
another device), 404 (no such address), 409 (its Idempotency-Key is being logged), 413, 415, 429, 503, each
with a JSON body ``{"error": code, "reason": text}``. Refusals (401, 403, 404, 413, 415, 429) are counted and
sampled for the status page, ``/api/refused`` and ``/metrics`` (refusals.py). With ``Idempotency-Key`` a
retried request gets the first answer again (``Idempotent-Replayed: true``) and its message is stored once.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from iot_suitcase.devices.credentials import CredentialStore
from iot_suitcase.devices.formats import PayloadFormat
from iot_suitcase.devices.reading import DEVICE_ID_PATTERN
from iot_suitcase.ingest.intake.directory import DeviceDirectory
from iot_suitcase.ingest.intake.intake import DeviceRequest, Intake
from iot_suitcase.ingest.sources.ratelimit import RateLimiter
from iot_suitcase.ingest.sources.refusals import WHAT_TO_DO, RefusedRequests
from iot_suitcase.ingest.wal.idempotency import PENDING, Answer, IdempotencyKeys
from iot_suitcase.ingest.wal.records import idempotency_key

log = logging.getLogger(__name__)

JSON = "application/json"
_COMMIT_TIMEOUT_S = 10.0
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)
_BASIC = 'Basic realm="iot-suitcase"'


def _error(status: type[web.HTTPException], code: str, reason: str, **headers: str) -> web.HTTPException:
    body = json.dumps({"error": code, "reason": reason}, ensure_ascii=False)
    return status(text=body, content_type=JSON, headers=headers)


class Credentials:
    """The credential store, re-read when its file changes (rotation needs no restart)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._signature: tuple[float, int] | None = None
        self._store = CredentialStore(path)

    def current(self) -> CredentialStore:
        try:
            stat = self._path.stat()
            signature = (stat.st_mtime, stat.st_size)
        except FileNotFoundError:
            signature = None
        if signature != self._signature:
            self._store = CredentialStore(self._path)
            self._signature = signature
        return self._store


class HttpIngest:
    """The aiohttp application; every accepted body goes through ``Intake.submit_request``."""

    def __init__(
        self,
        intake: Intake,
        idempotency: IdempotencyKeys,
        *,
        formats: Mapping[str, PayloadFormat],
        directory: DeviceDirectory,
        credentials: Credentials,
        max_bytes: int,
        limiter: RateLimiter,
    ) -> None:
        self._intake = intake
        self._formats = formats
        self._idempotency = idempotency
        self._directory = directory
        self._credentials = credentials
        self._max_bytes = max_bytes
        self._limiter = limiter
        self.refusals = RefusedRequests()

    def app(self, outer_middlewares: Sequence[Middleware] = ()) -> web.Application:
        """The application with HTTP ingestion's routes; ``outer_middlewares`` (the console's login) run first."""
        app = web.Application(
            client_max_size=self._max_bytes + 1, middlewares=[*outer_middlewares, self._note_refusals]
        )
        app.router.add_post("/v1/devices/{device_id}/readings", self.post_readings)
        app.router.add_post("/v1/sensor-community", self.post_sensor_community)
        return app

    @web.middleware
    async def _note_refusals(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every refused request is counted and sampled (refusals.py), whichever handler refused it."""
        try:
            return await handler(request)
        except web.HTTPException as refused:
            # a browser's /favicon.ico is not a device: only posts and the device API count as a 404
            if refused.status not in WHAT_TO_DO or (refused.status == 404 and not _device_request(request)):
                raise
            device = request.match_info.get("device_id") or request.headers.get("X-Sensor")
            self.refusals.refused(refused.status, device, request.path, request.remote)
            if refused.status == 404:  # a device gets the same JSON answer as for every other refusal
                raise _error(web.HTTPNotFound, "not_found", WHAT_TO_DO[404]) from None
            raise

    async def post_readings(self, request: web.Request) -> web.Response:
        device_id = request.match_info["device_id"]
        key = _bearer(request) or request.headers.get("X-API-Key")
        if not key:
            raise _error(
                web.HTTPUnauthorized,
                "unauthorized",
                "send the device's API key: Authorization: Bearer <key>",
                **{"WWW-Authenticate": "Bearer"},
            )
        self._authorise(device_id, key, "Bearer")
        candidates = [fmt for fmt in self._formats.values() if request.content_type in fmt.content_types]
        if not candidates:
            raise _error(
                web.HTTPUnsupportedMediaType,
                "unsupported_media_type",
                f"Content-Type {request.content_type[:80]!r}: send {self._accepted()}",
            )
        body = await self._body(request)
        # formats sharing a Content-Type (native and sensor.community JSON) are told apart by their payload
        fmt = next((fmt for fmt in candidates if fmt.sniff(body)), candidates[0])
        return await self._ingest(request, device_id, fmt.name, body)

    def _accepted(self) -> str:
        """Every Content-Type a device may post, with the formats it carries."""
        by_type: dict[str, list[str]] = {}
        for fmt in self._formats.values():
            for content_type in fmt.content_types:
                by_type.setdefault(content_type, []).append(fmt.name)
        return " or ".join(f"{content_type} ({', '.join(names)})" for content_type, names in by_type.items())

    async def post_sensor_community(self, request: web.Request) -> web.Response:
        sensor = request.headers.get("X-Sensor", "")
        user, password = _basic(request)
        if not user or not password:
            raise _error(
                web.HTTPUnauthorized,
                "unauthorized",
                "set the firmware's basic auth: user = device id (esp8266-<chipid>), password = API key",
                **{"WWW-Authenticate": _BASIC},
            )
        self._authorise(user, password, _BASIC)
        if sensor and sensor != user:
            raise _error(web.HTTPForbidden, "forbidden", f"X-Sensor {sensor[:64]!r} is not the authenticated {user!r}")
        accepted = self._formats["sensor_community"].content_types
        if request.content_type not in accepted:
            raise _error(web.HTTPUnsupportedMediaType, "unsupported_media_type", f"send {' or '.join(accepted)}")
        return await self._ingest(request, user, "sensor_community", await self._body(request))

    def _authorise(self, device_id: str, key: str, scheme: str) -> None:
        """One answer for an unknown device, a wrong key and another device's key: 401, saying nothing of
        which devices exist or whose key it was."""
        known = _DEVICE_ID.match(device_id) is not None and device_id in self._directory.registry
        if known and self._credentials.current().check_api_key(device_id, key):
            return
        raise _error(
            web.HTTPUnauthorized,
            "unauthorized",
            WHAT_TO_DO[401],
            **{"WWW-Authenticate": scheme},
        )

    async def _body(self, request: web.Request) -> bytes:
        if request.content_length is not None and request.content_length > self._max_bytes:
            raise self._too_large(request.content_length)
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise self._too_large(None) from None

    def _too_large(self, size: int | None) -> web.HTTPException:
        stated = f"{size} bytes" if size is not None else "the body"
        body = {"error": "payload_too_large", "reason": f"{stated} is over the limit of {self._max_bytes} bytes"}
        return web.HTTPRequestEntityTooLarge(
            max_size=self._max_bytes, actual_size=size or 0, text=json.dumps(body), content_type=JSON
        )

    def _throttle(self, device_id: str) -> None:
        retry = self._limiter.allow(device_id)
        if retry:
            raise _error(
                web.HTTPTooManyRequests,
                "rate_limited",
                f"{device_id} is over its rate limit; retry in {retry:.1f} s",
                **{"Retry-After": str(max(1, round(retry)))},
            )

    async def _ingest(self, request: web.Request, device_id: str, fmt: str, body: bytes) -> web.Response:
        self._throttle(device_id)
        idempotency = _idempotency(request, device_id)
        if idempotency is not None:
            answered = self._idempotency.get(idempotency)
            if answered is PENDING:
                raise _error(
                    web.HTTPConflict,
                    "in_progress",
                    "a request with this Idempotency-Key is being logged; retry in a moment",
                    **{"Retry-After": "1"},
                )
            if answered is not None:
                return web.Response(
                    status=answered.status,
                    text=answered.body,
                    content_type=JSON,
                    headers={"Idempotent-Replayed": "true"},
                )
        message = DeviceRequest(device_id, fmt, f"{request.method} {request.path}", body, idempotency)
        try:
            entry = await self._intake.submit_request(message, _COMMIT_TIMEOUT_S)
        except TimeoutError:
            raise _error(
                web.HTTPServiceUnavailable,
                "busy",
                "the write-ahead log cannot take it now; retry later",
                **{"Retry-After": "30"},
            ) from None
        if entry.reject is not None:
            answer = Answer(400, json.dumps({"error": entry.reject.code, "reason": entry.reject.reason}))
        else:
            answer = Answer(202, json.dumps({"accepted": True}))
        if idempotency is not None:
            self._idempotency.put(idempotency, answer)
        return web.Response(status=answer.status, text=answer.body, content_type=JSON)


def _device_request(request: web.Request) -> bool:
    return request.method == "POST" or request.path.startswith("/v1/")


_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def _idempotency(request: web.Request, device_id: str) -> bytes | None:
    """The log key of a request's ``Idempotency-Key`` (1-255 visible ASCII characters), if it sent one."""
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise _error(
            web.HTTPBadRequest, "bad_idempotency_key", "Idempotency-Key: 1 to 255 visible ASCII characters, no spaces"
        )
    return idempotency_key(device_id, value)


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _basic(request: web.Request) -> tuple[str, str]:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return user, password
