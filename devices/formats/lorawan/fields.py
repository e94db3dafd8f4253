"""A network server's decoder output -> raw readings, through the field table in fields.toml.

Used only when this project has no codec for a device: the vendor decoder running in ChirpStack or The
Things Stack already turned the bytes into named values, and the table says which names are which
catalog quantity in which unit. Fields the table does not name are ignored; so are named fields whose
value says "nothing measured" (null, a word like "N/A", a boolean).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from iot_suitcase.devices.formats.base import RawReading
from iot_suitcase.devices.formats.lorawan.json_access import JsonObject, as_finite

# "3.384 V", "21.5°C", "-4 dBm": a number, optionally followed by a unit symbol.
_NUMBER_WITH_UNIT = re.compile(r"\s*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*(\S{1,16})?\s*")


@dataclass(frozen=True, slots=True)
class Field:
    """One decoder field name and what it means."""

    name: str
    quantity: str
    unit: str


def parse_fields(text: str) -> tuple[Field, ...]:
    """The table's fields in priority order; a name listed twice (ignoring case) is a mistake."""
    fields = tuple(
        Field(name=name, quantity=str(spec["quantity"]), unit=str(spec["unit"]))
        for name, spec in tomllib.loads(text)["fields"].items()
    )
    names = [field.name.lower() for field in fields]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"fields.toml: names listed twice (case-insensitively): {duplicates}")
    return fields


@cache
def load_fields() -> tuple[Field, ...]:
    return parse_fields(
        files("iot_suitcase.devices.formats.lorawan").joinpath("fields.toml").read_text(encoding="utf-8")
    )


def mapped_readings(decoded: JsonObject) -> list[RawReading]:
    """One reading per catalog quantity that the table finds in ``decoded`` (a flat object of fields)."""
    by_name: dict[str, str] = {}
    for key in decoded.data:
        by_name.setdefault(key.lower(), key)
    readings: list[RawReading] = []
    taken: set[str] = set()
    for field in load_fields():
        name = by_name.get(field.name.lower())
        if name is None or field.quantity in taken:
            continue
        reading = _reading(field, decoded.data[name], decoded.where(name))
        if reading is not None:
            readings.append(reading)
            taken.add(field.quantity)
    return readings


def unmapped_names(decoded: JsonObject) -> list[str]:
    """Field names the table does not know, for a reject reason that says what was there."""
    known = {field.name.lower() for field in load_fields()}
    return [key for key in decoded.data if key.lower() not in known]


def _reading(field: Field, value: object, where: str) -> RawReading | None:
    number = as_finite(value, where)
    if number is not None:
        return RawReading(field.quantity, number, field.unit)
    if isinstance(value, str):
        return _from_text(field, value, where)
    if isinstance(value, dict):
        # {"value": 21.5, "unit": "°C"}, as Decentlab's decoders write every measurement
        inner = value.get("value")
        unit = value.get("unit")
        stated = unit if isinstance(unit, str) and unit else field.unit
        number = as_finite(inner, f"{where}.value")
        if number is not None:
            return RawReading(field.quantity, number, stated)
        if isinstance(inner, str):
            found = _from_text(field, inner, f"{where}.value")
            return None if found is None else RawReading(field.quantity, found.value, stated)
    return None


def _from_text(field: Field, text: str, where: str) -> RawReading | None:
    match = _NUMBER_WITH_UNIT.fullmatch(text[:64])
    if match is None:
        return None
    number = as_finite(float(match.group(1)), where)
    return None if number is None else RawReading(field.quantity, number, match.group(2) or field.unit)
