"""Downloads of published readings (#19 point 3), per datastream and per site, as CSV or JSON for a time range,
streamed from InfluxDB to the client batch by batch, with the licence in every response (a ``Link`` header with
``rel="license"``, and in the JSON itself).

``/opendata/datastreams/<device>~<quantity>.csv|json`` and ``/opendata/sites/<site>.csv|json``, each with
optional ``from`` and ``to`` (ISO 8601 times).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json

from aiohttp import web

from iot_suitcase.devices.opendata.model import OpenDataRules
from iot_suitcase.devices.opendata.store import OpenDataError
from iot_suitcase.devices.opendata.streams import Stream
from iot_suitcase.devices.opendata.units import ucum_code
from iot_suitcase.ingest.opendata.answers import public
from iot_suitcase.ingest.opendata.filters import FilterError, parse
from iot_suitcase.ingest.opendata.published import Published
from iot_suitcase.ingest.opendata.readings import (
    Conditions,
    ReadingsUnavailable,
    conditions,
    point_times,
)

PREFIX = "/opendata"
FORMATS = {"csv": "text/csv", "json": "application/json"}


class Downloads:
    def __init__(self, published: Published) -> None:
        self._published = published
        self._readings = published.readings

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PREFIX + "/datastreams/{key}.{format}", self.datastream)
        app.router.add_get(PREFIX + "/sites/{site}.{format}", self.site)

    def _now(self) -> tuple[OpenDataRules, list[Stream]]:
        try:
            return self._published.now()
        except OpenDataError:
            raise web.HTTPServiceUnavailable(text="the open-data settings cannot be read") from None

    async def datastream(self, request: web.Request) -> web.StreamResponse:
        rules, streams = await asyncio.to_thread(self._now)
        chosen = [s for s in streams if s.key == request.match_info["key"]]
        return await self._send(request, rules, chosen, request.match_info["key"])

    async def site(self, request: web.Request) -> web.StreamResponse:
        rules, streams = await asyncio.to_thread(self._now)
        chosen = [s for s in streams if s.device.site == request.match_info["site"]]
        return await self._send(request, rules, chosen, request.match_info["site"])

    async def _send(
        self, request: web.Request, rules: OpenDataRules, streams: list[Stream], name: str
    ) -> web.StreamResponse:
        kind = request.match_info["format"]
        if kind not in FORMATS:
            raise web.HTTPNotFound(text="downloads are .csv or .json")
        if not streams:
            raise web.HTTPNotFound(text=f"nothing published as {name!r}")
        where = _range(request)
        response = web.StreamResponse(
            headers={
                "Content-Type": f"{FORMATS[kind]}; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}.{kind}"',
                "Link": f'<{rules.licence_url}>; rel="license"',
            }
        )
        public(response)
        await response.prepare(request)
        try:
            if kind == "csv":
                await self._csv(response, streams, where)
            else:
                await self._json(response, rules, streams, where)
        except ReadingsUnavailable:  # the status is sent already: say it where the reader will see it
            await response.write(b"\nthe download broke off: the readings could not be read; try again\n")
        await response.write_eof()
        return response

    async def _csv(self, response: web.StreamResponse, streams: list[Stream], where: Conditions) -> None:
        await response.write(_csv_row(["time", "time_end", "device", "quantity", "value", "unit"]))
        for stream in streams:
            unit = ucum_code(stream.quantity.unit)
            async for batch in self._readings.stream(stream, where):
                rows = [_csv_row([*point_times(stream, at), stream.device.id, stream.quantity.name, value, unit])
                        for at, value in batch]  # fmt: skip
                await response.write(b"".join(rows))

    async def _json(
        self, response: web.StreamResponse, rules: OpenDataRules, streams: list[Stream], where: Conditions
    ) -> None:
        head = {"license": rules.licence_url, "attribution": rules.attribution}
        await response.write(json.dumps(head)[:-1].encode() + b', "observations": [')
        first = True
        for stream in streams:
            async for batch in self._readings.stream(stream, where):
                items = []
                for at, value in batch:
                    start, end = point_times(stream, at)
                    item = {"time": start, "device": stream.device.id, "quantity": stream.quantity.name,
                            "value": value, "unit": ucum_code(stream.quantity.unit)}  # fmt: skip
                    if end:
                        item["time_end"] = end
                    items.append(("" if first else ",") + json.dumps(item))
                    first = False
                await response.write("".join(items).encode())
        await response.write(b"]}")


def _range(request: web.Request) -> Conditions:
    parts = []
    for name, operator in (("from", "ge"), ("to", "lt")):
        if name in request.query:
            parts.append(f"phenomenonTime {operator} {request.query[name]}")
    try:
        return conditions(parse(" and ".join(parts))) if parts else Conditions()
    except FilterError:
        raise web.HTTPBadRequest(text="from and to are ISO 8601 times, e.g. 2026-12-01T00:00:00Z") from None


def _csv_row(values: list[object]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(values)
    return text.getvalue().encode()
