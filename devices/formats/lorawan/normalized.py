"""The Things Stack's normalized payload -> raw readings, through the path table in normalized.toml.

``normalized_payload`` is a list of measurements in one schema for every vendor (The Things Network Device
Repository's normalizers), so one table serves every device that has a normalizer. A measurement with its own
``time`` gives its readings that time; the others take the uplink's. Paths the table does not name are read
past and counted, as a codec counts the fields it does not know.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib.resources import files

from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.base import RawReading
from iot_suitcase.devices.formats.lorawan.json_access import JsonObject, as_finite, json_kind
from iot_suitcase.devices.timestamps import parse_timestamp

_NOT_READINGS = frozenset({"time", "air.location"})  # a measurement's time and words that describe it


@dataclass(frozen=True, slots=True)
class NormalizedPath:
    """One path of the normalized schema and the catalog quantity it is."""

    path: str
    quantity: str
    unit: str
    states: Mapping[str, float] = field(default_factory=dict)


@cache
def load_paths() -> dict[str, NormalizedPath]:
    table = tomllib.loads(
        files("iot_suitcase.devices.formats.lorawan").joinpath("normalized.toml").read_text(encoding="utf-8")
    )
    return {
        path: NormalizedPath(path, str(spec["quantity"]), str(spec["unit"]), dict(spec.get("states", {})))
        for path, spec in table["paths"].items()
    }


@dataclass(frozen=True, slots=True)
class NormalizedReadings:
    readings: list[RawReading]
    skipped: int


def normalized_readings(measurements: list[JsonObject]) -> NormalizedReadings:
    """The readings of every measurement, and how many of their values the table does not name."""
    paths = load_paths()
    readings: list[RawReading] = []
    skipped = 0
    for measurement in measurements:
        time = _time(measurement)
        for path, value in _leaves(measurement.data):
            if path in _NOT_READINGS:
                continue
            known = paths.get(path)
            number = None if known is None else _number(known, value, measurement.where(path))
            if known is None or number is None:
                skipped += 1
                continue
            readings.append(RawReading(known.quantity, number, known.unit, time))
    return NormalizedReadings(readings, skipped)


def _time(measurement: JsonObject) -> datetime | None:
    raw = measurement.string("time")
    if not raw:
        return None
    try:
        return parse_timestamp(raw)
    except DecodeError as error:
        raise DecodeError(error.code, f"{measurement.where('time')}: {error.reason}") from None


def _leaves(data: Mapping[str, object], prefix: str = "") -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            found += _leaves(value, f"{prefix}{key}.")
        elif value is not None:
            found.append((f"{prefix}{key}", value))
    return found


def _number(known: NormalizedPath, value: object, where: str) -> float | None:
    if known.states:
        if isinstance(value, str) and value in known.states:
            return float(known.states[value])
        shown = repr(value[:40]) if isinstance(value, str) else json_kind(value)
        raise DecodeError(RejectCode.WRONG_TYPE, f"{where}: expected one of {', '.join(known.states)}, got {shown}")
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    return as_finite(value, where)
