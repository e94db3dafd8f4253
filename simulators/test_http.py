"""The HTTP client against a scripted server: headers per the contract, 429/503 waits, answers counted.

The real service is in test_end_to_end.py; a scripted server here makes the rare answers (rate limited,
busy, an unexpected reject) happen on demand.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections import Counter
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from iot_suitcase.simulators.fleet import FleetSpec, build_fleet
from iot_suitcase.simulators.formats import FORMATS, Report
from iot_suitcase.simulators.http import HttpOptions, HttpSender, load_api_keys
from iot_suitcase.simulators.model import Outgoing, SimDevice, Topics


def message(device: SimDevice, *, reject: str | None = None) -> Outgoing:
    values = {quantity: 10.0 for quantity in device.quantities}
    [draft] = FORMATS[device.format].drafts(
        Report(device, 1_795_000_000_000, 1_795_000_000_000_000, values, 1), Topics()
    )
    return Outgoing(1_795_000_000_000, device, draft.topic, draft.payload(), reject=reject)


def devices(fmt: str) -> list[SimDevice]:
    return build_fleet(FleetSpec(sites=("dokk1",), devices_per_site=2, seed=1, kinds=("air_quality",), formats=(fmt,)))


Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


async def run(
    answers: list[Answer], messages: list[Outgoing], keys: dict[str, str]
) -> tuple[HttpSender, list[web.Request]]:
    seen: list[web.Request] = []

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        seen.append(request)
        status, body, headers = answers.pop(0) if answers else (202, {"accepted": True}, {})
        return web.json_response(body, status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/v1/devices/{device_id}/readings", handle)
    app.router.add_post("/v1/sensor-community", handle)
    server = TestServer(app)
    await server.start_server()
    try:
        sender = HttpSender(HttpOptions(url=str(server.make_url("")), concurrency=1, retries=2), keys)

        async def now(_message: Outgoing) -> None:
            return None

        await sender.run(messages, now, lambda: None)
    finally:
        await server.close()
    return sender, seen


async def test_native_posts_carry_the_device_s_bearer_key_and_rate_limits_are_waited_out() -> None:
    first, second = devices("native")
    keys = {first.id: secrets.token_urlsafe(16), second.id: secrets.token_urlsafe(16)}
    answers = [
        (429, {"error": "rate_limited"}, {"Retry-After": "0.05"}),
        (503, {"error": "busy"}, {"Retry-After": "0.05"}),
    ]
    sender, seen = await run(answers, [message(first), message(second)], keys)
    first_path, second_path = (f"/v1/devices/{device.id}/readings" for device in (first, second))
    assert [request.path for request in seen] == [first_path] * 3 + [second_path]
    assert len(seen) == 4  # 429, 503, then both accepted
    assert seen[0].headers["Authorization"] == f"Bearer {keys[first.id]}"
    assert seen[0].headers["Content-Type"] == "application/json"
    assert (sender.stats.accepted, sender.stats.retried_429, sender.stats.failed) == (2, 1, 0)
    assert sender.stats.unexpected == []


async def test_the_airrohr_route_uses_basic_auth_and_x_sensor() -> None:
    station = devices("sensor_community")[0]
    key = secrets.token_urlsafe(16)
    _, seen = await run([], [message(station)], {station.id: key})
    [request] = seen
    assert request.path == "/v1/sensor-community"
    assert request.headers["X-Sensor"] == station.id == f"esp8266-{station.chip_id}"
    assert request.headers["X-PIN"] == "1"  # an SDS011 on pin 1
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    assert scheme == "Basic"
    assert (user, password) == (station.id, key)


async def test_senml_goes_as_senml_and_answers_other_than_declared_are_reported() -> None:
    first, second = devices("senml")
    keys = {first.id: secrets.token_urlsafe(16), second.id: secrets.token_urlsafe(16)}
    answers: list[Answer] = [(400, {"error": "out_of_range", "reason": "x"}, {}), (400, {"error": "wrong_type"}, {})]
    sender, seen = await run(answers, [message(first), message(second, reject="wrong_type")], keys)
    assert {request.headers["Content-Type"] for request in seen} == {"application/senml+json"}
    assert sender.stats.rejected == Counter({"out_of_range": 1, "wrong_type": 1})
    assert sender.stats.acknowledged == 2
    assert sender.stats.unexpected == [f"{first.id}: rejected out_of_range, expected stored"]


async def test_a_server_that_keeps_failing_is_given_up_on_after_the_retries() -> None:
    [device, _] = devices("native")
    answers: list[Answer] = [(500, {"error": "boom"}, {})] * 3
    sender, seen = await run(answers, [message(device)], {device.id: secrets.token_urlsafe(16)})
    assert len(seen) == 3
    assert sender.stats.failed == 1
    assert sender.stats.acknowledged == 0


def test_api_keys_load_from_credentials_json_lines_or_a_mapping(tmp_path: Path) -> None:
    one, two = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    lines = tmp_path / "keys.jsonl"
    lines.write_text(
        "\n".join(
            json.dumps({"device_id": d, "mqtt_username": d, "mqtt_password": "-", "api_key": k})
            for d, k in (("a", one), ("b", two))
        )
    )
    assert load_api_keys(lines) == {"a": one, "b": two}
    mapping = tmp_path / "keys.json"
    mapping.write_text(json.dumps({"a": one}, indent=2))
    assert load_api_keys(mapping) == {"a": one}
