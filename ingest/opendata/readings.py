"""Published readings from InfluxDB, as the public may see them: only a published stream's, summed or averaged
per bucket and delayed where its privacy says so, never a reading newer than the delay. InfluxQL over the v1
``/query`` API as the console's charts read it (``History``'s reader account, which can only read)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from iot_suitcase.devices.catalog.catalog import NAME_PATTERN
from iot_suitcase.devices.opendata.streams import Stream
from iot_suitcase.devices.reading import DEVICE_ID_PATTERN
from iot_suitcase.devices.settings import InfluxSettings
from iot_suitcase.ingest.opendata.filters import Comparison, Expression, FilterError, Logical
from iot_suitcase.ingest.sink.history import History

_TIME_PATHS = ("phenomenonTime", "resultTime")
_INFLUX_OPERATORS = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_TIMEOUT_S = 10.0
CHUNK = 1_000  # points per batch of a streamed download (a line of InfluxDB's chunked answer stays under 64 KiB)


def iso_time(moment: datetime) -> str:
    """A time as the public side writes it: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def point_times(stream: Stream, at_ms: int) -> tuple[str, str]:
    """A public point's time, and the end of its bucket when its stream is published aggregated (else "")."""
    start = iso_time(from_ms(at_ms))
    if not stream.privacy.aggregated:
        return start, ""
    return start, iso_time(from_ms(at_ms + stream.privacy.bucket_s * 1000))


class ReadingsUnavailable(RuntimeError):
    """InfluxDB could not answer (the public side says 503)."""


@dataclass(frozen=True, slots=True)
class Conditions:
    """A $filter on Observations as InfluxQL: on time (inside the bucketing) and on the value (after it)."""

    time: tuple[str, ...] = ()
    value: tuple[str, ...] = ()


def conditions(expression: Expression | None) -> Conditions:
    """Comparisons of phenomenonTime/resultTime and result, joined by ``and``: what InfluxDB can answer for a
    page of a stream's observations. Anything else on Observations is 501."""
    if expression is None:
        return Conditions()
    parts = _conjuncts(expression)
    time, value = [], []
    for part in parts:
        operator = _INFLUX_OPERATORS[part.operator]
        if part.path in _TIME_PATHS and isinstance(part.value, datetime) and part.operator != "ne":
            time.append(f"time {operator} '{part.value.astimezone(UTC).isoformat().replace('+00:00', 'Z')}'")
        elif part.path == "result" and isinstance(part.value, float):
            value.append(f'"value" {operator} {part.value!r}')
        else:
            raise FilterError(
                f"$filter on Observations: only phenomenonTime, resultTime (with a time) and result (with a number) "
                f"joined by 'and' are implemented, not {part.path} {part.operator}",
                not_implemented=True,
            )
    return Conditions(tuple(time), tuple(value))


def _conjuncts(expression: Expression) -> list[Comparison]:
    if isinstance(expression, Comparison):
        return [expression]
    if not isinstance(expression, Logical):
        raise FilterError("$filter on Observations: geography functions are not implemented", not_implemented=True)
    if isinstance(expression, Logical) and expression.operator == "and":
        return [part for operand in expression.operands for part in _conjuncts(operand)]
    raise FilterError("$filter on Observations: 'or' and 'not' are not implemented", not_implemented=True)


def stream_query(stream: Stream, where: Conditions, *, counting: bool = False) -> str:
    """The InfluxQL of a stream's public points (``time``, ``value``), or of their count."""
    device, quantity = stream.device.id, stream.quantity.name
    if not re.fullmatch(DEVICE_ID_PATTERN, device) or not re.fullmatch(NAME_PATTERN, quantity):
        raise ValueError(f"not a published stream: {device!r} {quantity!r}")  # names that cannot leave quotes
    privacy = stream.privacy
    clauses = [f"\"device\" = '{device}'", *where.time]
    if privacy.delay_s:
        clauses.append(f"time <= now() - {privacy.delay_s}s")
    if privacy.aggregated:
        clauses.append("time >= 0")
        inner = (
            f'SELECT {privacy.treatment}("value") AS "value" FROM "{quantity}" WHERE {" AND ".join(clauses)} '  # noqa: S608
            f"GROUP BY time({privacy.bucket_s}s) fill(none)"
        )
    else:
        inner = f'SELECT "value" FROM "{quantity}" WHERE {" AND ".join(clauses)}'  # noqa: S608
    outer_where = f" WHERE {' AND '.join(where.value)}" if where.value else ""
    what = 'count("value")' if counting else '"value"'
    return f"SELECT {what} FROM ({inner}){outer_where}"  # noqa: S608


class PublicReadings:
    """Reads InfluxDB over one connection pool for the server's lifetime (``close`` at its end): a new
    connection per query costs both sides more than the query under a flood."""

    def __init__(self, settings: InfluxSettings) -> None:
        self._history = History(settings)  # its reader's credentials
        self._database = settings.bucket
        self._retention_policy = settings.influx_retention_policy
        self._url = settings.influx_url
        self._session: aiohttp.ClientSession | None = None

    def _connections(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=_TIMEOUT_S))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def page(
        self, stream: Stream, where: Conditions, *, descending: bool, limit: int, offset: int
    ) -> list[tuple[int, float]]:
        """(epoch milliseconds, value) of one page of the stream's public points."""
        order = "DESC" if descending else "ASC"
        query = f"{stream_query(stream, where)} ORDER BY time {order} LIMIT {int(limit)} OFFSET {int(offset)}"
        answer = await self._query(query)
        return [(int(at), float(value)) for at, value in _values(answer) if value is not None]

    async def count(self, stream: Stream, where: Conditions) -> int:
        values = _values(await self._query(stream_query(stream, where, counting=True)))
        return int(values[0][1]) if values else 0

    async def spans(self, streams: list[Stream]) -> dict[str, tuple[int, int]]:
        """Each stream's first and last public time (epoch ms, a bucket's start where aggregated) by its key;
        a stream without a public reading is left out. Two queries per quantity and delay, grouped by device,
        rather than two per stream: a catalogue of a thousand datasets asks InfluxDB a few times."""
        groups: dict[tuple[str, int], list[Stream]] = {}
        for stream in streams:
            groups.setdefault((stream.quantity.name, stream.privacy.delay_s), []).append(stream)
        found = {}
        for (quantity, delay_s), members in groups.items():
            if not re.fullmatch(NAME_PATTERN, quantity):
                raise ValueError(f"not a published quantity: {quantity!r}")
            where = f" WHERE time <= now() - {int(delay_s)}s" if delay_s else ""
            picks = [f'SELECT {pick}("value") FROM "{quantity}"{where} GROUP BY "device"' for pick in ("first", "last")]  # noqa: S608
            answer = await self._query(";".join(picks))
            firsts, lasts = (_time_by_device(result) for result in answer.get("results", [{}, {}])[:2])
            for stream in members:
                first, last = firsts.get(stream.device.id), lasts.get(stream.device.id)
                if first is not None and last is not None:
                    bucket_ms = stream.privacy.bucket_s * 1000 if stream.privacy.aggregated else 1
                    found[stream.key] = (first - first % bucket_ms, last - last % bucket_ms)
        return found

    async def stream(self, stream: Stream, where: Conditions) -> AsyncIterator[list[tuple[int, float]]]:
        """Every public point of a stream, oldest first, in batches of ``CHUNK`` as InfluxDB streams them
        (``chunked=true``): a year of one-minute readings never sits in memory at once."""
        form = self._form(f"{stream_query(stream, where)} ORDER BY time ASC") | {"chunked": "true"}
        form["chunk_size"] = str(CHUNK)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=60)
        try:
            async with self._connections().post(
                f"{self._url}/query", data=form, headers=self._history.auth_headers(), timeout=timeout
            ) as response:
                if response.status != 200:
                    raise ReadingsUnavailable(f"InfluxDB answered {response.status}")
                async for line in response.content:
                    if line.strip():
                        answer = json.loads(line)
                        yield [(int(at), float(value)) for at, value in _values(answer) if value is not None]
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise ReadingsUnavailable(str(error)) from None

    def _form(self, query: str) -> dict[str, str]:
        form = {"db": self._database, "q": query, "epoch": "ms"}
        if self._retention_policy:
            form["rp"] = self._retention_policy
        return form

    async def _query(self, query: str) -> dict[str, Any]:
        form = self._form(query)
        try:
            async with self._connections().post(
                f"{self._url}/query", data=form, headers=self._history.auth_headers()
            ) as response:
                if response.status != 200:
                    raise ReadingsUnavailable(f"InfluxDB answered {response.status}")
                answer: dict[str, Any] = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise ReadingsUnavailable(str(error)) from None
        for result in answer.get("results", []):
            if "error" in result and "database not found" not in result["error"]:
                raise ReadingsUnavailable(str(result["error"])[:200])
        return answer


def _time_by_device(result: dict[str, Any]) -> dict[str, int]:
    return {
        serie["tags"]["device"]: int(serie["values"][0][0])
        for serie in result.get("series", [])
        if serie.get("values") and serie.get("tags", {}).get("device")
    }


def _values(answer: dict[str, Any]) -> list[list[Any]]:
    for result in answer.get("results", []):
        for serie in result.get("series", []):
            return list(serie.get("values", []))
    return []
