"""The field table names only catalog quantities in accepted units, and decoder values map as documented."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.base import RawReading
from iot_suitcase.devices.formats.lorawan import JsonObject
from iot_suitcase.devices.formats.lorawan.fields import load_fields, mapped_readings, parse_fields, unmapped_names


def mapped(decoded: Mapping[str, object]) -> list[RawReading]:
    return mapped_readings(JsonObject(decoded, "object"))


def test_every_field_names_a_catalog_quantity_in_an_accepted_unit() -> None:
    catalog = load_catalog()
    for field in load_fields():
        quantity = catalog.quantity(field.quantity)
        assert field.unit in quantity.accepted_units, field


def test_a_name_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\['temp'\]"):
        parse_fields(
            '[fields]\ntemp = { quantity = "temperature", unit = "degC" }\n'
            'TEMP = { quantity = "temperature", unit = "K" }\n'
        )


def test_numbers_take_the_tables_unit_and_names_match_any_case() -> None:
    assert mapped({"Temperature": 21.5, "VDD": 3600, "Light": 12}) == [
        RawReading("temperature", 21.5, "degC"),
        RawReading("illuminance", 12.0, "lux"),
        RawReading("battery_voltage", 3600.0, "mV"),
    ]


def test_values_stating_their_unit_keep_it() -> None:
    assert mapped({"Bat": "3.384 V", "TempC_SHT": "21.5°C", "Distance": " 1234 mm ", "Hum_SHT": "45"}) == [
        RawReading("temperature", 21.5, "°C"),
        RawReading("humidity", 45.0, "%"),
        RawReading("distance", 1234.0, "mm"),
        RawReading("battery_voltage", 3.384, "V"),
    ]
    decentlab = {
        "air_temperature": {"value": 21.5, "unit": "°C"},
        "barometric_pressure": {"value": 96720, "unit": "Pa"},
        "battery_voltage": {"value": "3.1"},
    }
    assert mapped(decentlab) == [
        RawReading("temperature", 21.5, "°C"),
        RawReading("pressure", 96720.0, "Pa"),
        RawReading("battery_voltage", 3.1, "V"),
    ]


def test_values_that_say_nothing_was_measured_are_skipped() -> None:
    nothing = {"temperature": None, "humidity": "N/A", "co2": True, "distance": [1], "battery": {"value": None}}
    assert mapped(nothing) == []


def test_first_listed_field_wins_when_two_mean_the_same_quantity() -> None:
    both = {"TempC_SHT": 19.0, "temperature": 21.0}
    assert mapped(both) == [RawReading("temperature", 21.0, "degC")]
    # a skipped value does not block the next field for the same quantity
    assert mapped({"temperature": None, "TempC_SHT": 19.0}) == [RawReading("temperature", 19.0, "degC")]


def test_non_finite_numbers_are_rejected_with_their_path() -> None:
    with pytest.raises(DecodeError) as caught:
        mapped({"co2": "1e999 ppm"})
    assert caught.value.code is RejectCode.NOT_FINITE
    assert "object.co2" in caught.value.reason


def test_unmapped_names_lists_what_the_table_does_not_know() -> None:
    assert unmapped_names(JsonObject({"luminosity": 1, "Temperature": 2, "status": "ok"}, "x")) == [
        "luminosity",
        "status",
    ]
