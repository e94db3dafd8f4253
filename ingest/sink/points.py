"""The InfluxDB schema: one measurement per quantity, tagged by device, one float field ``value``.

Measurement names are catalog quantity names and device ids are restricted to [A-Za-z0-9._:-], so
neither ever needs escaping; tag values from elsewhere go through the line-protocol escaper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from math import isfinite
from typing import Final

from iot_suitcase.devices.reading import Reading
from iot_suitcase.ingest.sink.lineprotocol import LineProtocolError, escape_key, escape_tag_value, format_float

DEVICE_TAG: Final = "device"
VALUE_FIELD: Final = "value"
UPLINKS: Final = "suitcase_uplinks"
REJECTS: Final = "suitcase_rejects"
PIPELINE = "suitcase_pipeline"
DEVICES = "suitcase_devices"
UNKNOWN: Final = "-"


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def time_ns(moment: datetime) -> int:
    """Exact nanoseconds since the epoch, in integers (float timestamps would round the microseconds)."""
    since = moment - _EPOCH  # (since // 1 us) * 1000, in integer arithmetic (test_points.py)
    return ((since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds) * 1000


def tag_set(tags: Mapping[str, str], left_out: Callable[[str, LineProtocolError], None]) -> str:
    """A device's tag set as ``reading_line`` takes it: escaped, sorted by key as InfluxDB stores it; a tag
    line protocol cannot carry is left out and reported to ``left_out``."""
    parts = []
    for key, value in sorted(tags.items()):
        try:
            parts.append(f"{escape_key(key)}={escape_tag_value(value)}")
        except LineProtocolError as error:
            left_out(key, error)
    return ",".join(parts)


def reading_line(reading: Reading, tags: str | None = None, stamp: int | None = None) -> str:
    """One line of line protocol for one reading; the value is always a float, so types never conflict.

    ``tags`` is the device's escaped tag set (``device=...,kind=...,model=...,site=...``, from the registry);
    ``stamp`` is ``time_ns(reading.time)``, if the caller has it already.
    """
    return (
        f"{reading.quantity},{tags or f'{DEVICE_TAG}={reading.device_id}'} "
        f"{VALUE_FIELD}={format_float(reading.value)} {time_ns(reading.time) if stamp is None else stamp}"
    )


def reading_lines(readings: list[Reading], tags: str | None = None) -> list[str]:
    """``reading_line`` of each reading (``test_points.py`` proves it), written out for every reading stored:
    the timestamp computed once per run of readings sharing a time (a message's readings usually do), a
    finite float formatted here as ``format_float`` does."""
    lines = []
    moment: datetime | None = None
    stamp = 0
    for reading in readings:
        if reading.time is not moment:
            moment = reading.time
            stamp = time_ns(moment)
        value = reading.value
        if type(value) is float and isfinite(value):
            text = repr(value)
            if text.endswith(".0"):
                text = text[:-2]
        else:
            text = format_float(value)  # raises for what line protocol cannot carry
        lines.append(f"{reading.quantity},{tags or f'{DEVICE_TAG}={reading.device_id}'} {VALUE_FIELD}={text} {stamp}")
    return lines


def tag_value(value: str | None) -> str:
    """An escaped tag value; what line protocol cannot carry (or nothing) becomes "-"."""
    if not value:
        return UNKNOWN
    try:
        return escape_tag_value(value)
    except LineProtocolError:
        return UNKNOWN


def uplink_tags(site: str, interval_s: int | None) -> str:
    """The tags of a device's uplink points besides its id and the format: its site, and the reporting interval
    the registry expects of it (the silence queries group devices by it, so they never list device ids)."""
    return f"interval_s={UNKNOWN if interval_s is None else interval_s},site={tag_value(site)}"


def uplink_line(device_id: str, tags: str, fmt: str, *, readings: int, size: int, time: int) -> str:
    """One point per stored message: when a device was last heard, and how often it speaks. ``tags`` is
    ``uplink_tags`` of the device."""
    return f"{UPLINKS},{DEVICE_TAG}={device_id},format={fmt},{tags} readings={readings},bytes={size} {time}"


def reject_line(reason: str, device_id: str | None, site: str, time: int) -> str:
    """One point per rejected message, so dashboards can show rejects per reason and device."""
    return (
        f"{REJECTS},{DEVICE_TAG}={tag_value(device_id)},reason={tag_value(reason)},site={tag_value(site)} "
        f"count=1 {time}"
    )
