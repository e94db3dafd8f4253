"""A device's last day, read back from InfluxDB for the console's small charts.

InfluxQL over the v1 ``/query`` API, which both flavours answer: InfluxDB 1.x with user and password, 2.x
and 3.x with a token (every bucket has a virtual database mapping), as Grafana's datasource reads it.
One request per device page, one statement per quantity, means over fixed buckets: a day is at most
``BUCKETS`` points a quantity, whatever the device's rate.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from iot_suitcase.devices.catalog.catalog import NAME_PATTERN
from iot_suitcase.devices.reading import DEVICE_ID_PATTERN
from iot_suitcase.devices.settings import InfluxFlavour, InfluxSettings

log = logging.getLogger(__name__)

BUCKETS = 96  # a quarter of an hour each over 24 h
_TIMEOUT_S = 5.0

Series = list[tuple[datetime, float]]


def last_day_query(device_id: str, quantities: Iterable[str]) -> str:
    """The statements, one per quantity. Only names that cannot break out of their quotes get in: device ids
    and catalog names are checked against their patterns, which admit no quote, backslash or semicolon."""
    if not re.fullmatch(DEVICE_ID_PATTERN, device_id):
        raise ValueError(f"not a device id: {device_id!r}")
    statements = []
    for quantity in quantities:
        if not re.fullmatch(NAME_PATTERN, quantity):
            raise ValueError(f"not a quantity name: {quantity!r}")
        where = f"\"device\" = '{device_id}' AND time > now() - 24h"
        statements.append(
            f'SELECT mean("value") FROM "{quantity}" WHERE {where} GROUP BY time({24 * 60 // BUCKETS}m) fill(none)'  # noqa: S608
        )
    return ";".join(statements)


class History:
    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings

    def auth_headers(self) -> dict[str, str]:
        """The headers that authenticate as the reader, by flavour. InfluxDB 1.x takes a user in the URL's query
        or in basic auth, not in a form body: basic auth keeps the password out of URLs and logs."""
        user, password, token = self._settings.reader
        if self._settings.influx_flavour is InfluxFlavour.V2:
            return {"Authorization": f"Token {token.get_secret_value() if token else ''}"}
        if user:
            basic = aiohttp.BasicAuth(user, password.get_secret_value() if password else "")
            return {"Authorization": basic.encode()}
        return {}

    async def last_day(self, device_id: str, quantities: list[str]) -> dict[str, Series] | None:
        """Each quantity's means over the last 24 h; None when InfluxDB cannot say (the page says so)."""
        if not quantities:
            return {}
        headers = self.auth_headers()
        form = {"db": self._settings.bucket, "q": last_day_query(device_id, quantities), "epoch": "s"}
        if self._settings.influx_retention_policy:
            form["rp"] = self._settings.influx_retention_policy
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=_TIMEOUT_S)) as session,
                session.post(f"{self._settings.influx_url}/query", data=form, headers=headers) as response,
            ):
                if response.status != 200:
                    log.warning("history not read status=%s body=%r", response.status, (await response.text())[:200])
                    return None
                answer: dict[str, Any] = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            log.warning("history not read error=%r", error)
            return None
        return _series(answer, quantities)


def _series(answer: dict[str, Any], quantities: list[str]) -> dict[str, Series]:
    found: dict[str, Series] = {quantity: [] for quantity in quantities}
    for number, result in enumerate(answer.get("results", [])):
        quantity = quantities[result.get("statement_id", number)]
        for serie in result.get("series", []):
            found[quantity] = [
                (datetime.fromtimestamp(at, UTC), float(value))
                for at, value in serie.get("values", [])
                if value is not None
            ]
    return found
