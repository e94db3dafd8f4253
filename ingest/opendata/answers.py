"""How the public side answers: any web page may read open data (CORS), and an error is the SensorThings
servers' JSON (``code``, ``type``, ``message``)."""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web

Answer = TypeVar("Answer", bound=web.StreamResponse)


def public(response: Answer) -> Answer:
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def public_json(body: dict[str, Any], status: int = 200) -> web.Response:
    response = web.json_response(body, status=status)
    public(response)
    return response


def public_error(status: int, message: str) -> web.Response:
    return public_json({"code": status, "type": "error", "message": message}, status)
