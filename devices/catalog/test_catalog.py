"""The catalog and its unit tables: complete, consistent, and equal to pint where pint knows the unit."""

from __future__ import annotations

import math
from typing import Any

import pint
import pytest
from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.devices.catalog import load_catalog, parse_catalog
from iot_suitcase.devices.catalog.units import DIMENSIONS, conversion
from iot_suitcase.devices.errors import DecodeError, RejectCode

CATALOG = load_catalog()
UREG: Any = pint.UnitRegistry()

# Our symbol -> pint's name for it, where pint has one (SenML and marketing spellings map to the same unit).
PINT_NAMES = {
    "degC": "degC",
    "°C": "degC",
    "Cel": "degC",
    "C": "degC",
    "celsius": "degC",
    "K": "kelvin",
    "degF": "degF",
    "°F": "degF",
    "F": "degF",
    "fahrenheit": "degF",
    "ppm": "micromole/mole",
    "ppb": "nanomole/mole",
    "%vol": "percent",
    "ug/m3": "microgram/m**3",
    "µg/m3": "microgram/m**3",
    "μg/m3": "microgram/m**3",
    "ug/m³": "microgram/m**3",
    "µg/m³": "microgram/m**3",
    "μg/m³": "microgram/m**3",
    "mg/m3": "milligram/m**3",
    "mg/m³": "milligram/m**3",
    "ng/m3": "nanogram/m**3",
    "Pa": "Pa",
    "hPa": "hPa",
    "mbar": "mbar",
    "kPa": "kPa",
    "bar": "bar",
    "MPa": "MPa",
    "lux": "lux",
    "lx": "lux",
    "m": "m",
    "mm": "mm",
    "cm": "cm",
    "km": "km",
    "in": "inch",
    "ft": "foot",
    "m/s": "m/s",
    "km/h": "km/hour",
    "mph": "mile/hour",
    "kn": "knot",
    "deg": "degree",
    "°": "degree",
    "rad": "radian",
    "V": "V",
    "mV": "mV",
    "kV": "kV",
    "A": "A",
    "mA": "mA",
    "W": "W",
    "mW": "mW",
    "kW": "kW",
    "MW": "MW",
    "J": "J",
    "Wh": "W*hour",
    "kWh": "kW*hour",
    "MWh": "MW*hour",
}
PAIRS = [
    (q.name, symbol)
    for q in CATALOG.quantities.values()
    for symbol in DIMENSIONS[q.dimension]
    if symbol in PINT_NAMES and q.unit in PINT_NAMES
]


def test_pint_comparison_covers_every_physical_dimension() -> None:
    compared = {CATALOG.quantities[name].dimension for name, _ in PAIRS}
    assert compared >= {
        "temperature",
        "mixing_ratio",
        "mass_concentration",
        "pressure",
        "length",
        "speed",
        "angle",
        "voltage",
        "current",
        "power",
        "energy",
        "illuminance",
    }


@pytest.mark.parametrize(("quantity", "symbol"), PAIRS)
@given(value=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_conversions_equal_pint(quantity: str, symbol: str, value: float) -> None:
    q = CATALOG.quantities[quantity]
    ours = conversion(q.dimension, symbol, q.unit)
    assert ours is not None
    theirs = UREG.Quantity(value, PINT_NAMES[symbol]).to(PINT_NAMES[q.unit]).magnitude
    assert math.isclose(ours.apply(value), theirs, rel_tol=1e-9, abs_tol=1e-9)


def test_every_kind_and_quantity_is_consistent() -> None:
    assert set(CATALOG.quantities) >= {
        "temperature",
        "humidity",
        "co2",
        "tvoc",
        "pm1",
        "pm2_5",
        "pm4",
        "pm10",
        "no2",
        "o3",
        "pressure",
        "noise_laeq",
        "illuminance",
        "motion",
        "people_count",
        "bike_count",
        "distance",
        "fill_level",
        "water_level",
        "battery",
        "battery_voltage",
        "rssi",
        "snr",
        "wind_speed",
        "wind_direction",
        "rain",
        "voltage",
        "current",
        "power",
        "energy",
    }
    for quantity in CATALOG.quantities.values():
        assert quantity.unit in quantity.accepted_units
    grouped = {q for kind in CATALOG.kinds.values() for q in kind.quantities}
    assert grouped == set(CATALOG.quantities), "every quantity belongs to some kind"


@pytest.mark.parametrize(
    ("name", "unit", "low", "high"),
    [
        ("temperature", "degC", -60, 100),
        ("humidity", "%", 0, 100),
        ("co2", "ppm", 0, 40000),
        ("pm2_5", "ug/m3", 0, 2000),
        ("pressure", "hPa", 300, 1100),
        ("noise_laeq", "dB(A)", 0, 140),
        ("illuminance", "lux", 0, 200000),
        ("distance", "mm", 0, 20000),
        ("fill_level", "%", 0, 100),
        ("battery", "%", 0, 100),
        ("battery_voltage", "V", 0, 30),
        ("wind_direction", "deg", 0, 360),
    ],
)
def test_issue_ranges(name: str, unit: str, low: float, high: float) -> None:
    quantity = CATALOG.quantity(name)
    assert (quantity.unit, quantity.min, quantity.max) == (unit, low, high)


def test_canonical_value_converts_checks_and_refuses_to_guess() -> None:
    temperature = CATALOG.quantity("temperature")
    assert CATALOG.canonical_value(temperature, 293.15, "K") == pytest.approx(20.0)
    assert CATALOG.canonical_value(CATALOG.quantity("battery_voltage"), 3600, "mV") == pytest.approx(3.6)
    assert CATALOG.canonical_value(CATALOG.quantity("energy"), 1500, "Wh") == pytest.approx(1.5)
    with pytest.raises(DecodeError) as caught:
        CATALOG.canonical_value(temperature, 20, "Celsius degrees")
    assert caught.value.code is RejectCode.UNKNOWN_UNIT
    with pytest.raises(DecodeError) as caught:
        CATALOG.canonical_value(CATALOG.quantity("pressure"), 1013, "Pa")  # 10.13 hPa: implausible
    assert caught.value.code is RejectCode.OUT_OF_RANGE
    with pytest.raises(DecodeError) as caught:
        CATALOG.quantity("temp")
    assert caught.value.code is RejectCode.UNKNOWN_QUANTITY


def test_a_broken_catalog_file_is_refused() -> None:
    entry = 'dimension="length"\nmin=0\nmax=1\ndecimals=0\ndescription="x"\ndescription_da="x"\ntypical=0.5\n'
    entry += 'short="x"\nshort_da="x"\n'
    with pytest.raises(ValueError, match="canonical unit"):
        parse_catalog(f'[quantities.x]\nunit="furlong"\n{entry}typical_range=[0, 1]')
    with pytest.raises(ValueError, match="must be a range inside"):
        parse_catalog(f'[quantities.x]\nunit="m"\n{entry}typical_range=[0, 2]')
    with pytest.raises(ValueError, match="must lie in typical_range"):
        parse_catalog(f'[quantities.x]\nunit="m"\n{entry}typical_range=[0, 0.25]')
    with pytest.raises(ValueError, match="typical_range"):
        parse_catalog(f'[quantities.x]\nunit="m"\n{entry}')  # a quantity says all it needs, or is refused
    with pytest.raises(ValueError, match="unknown quantities"):
        parse_catalog('[kinds.k]\ntitle="K"\nquantities=["nope"]')
    with pytest.raises(ValueError, match="states and states_da"):
        parse_catalog(f'[quantities.x]\nunit="m"\n{entry}typical_range=[0, 1]\nstates={{"0"="off","1"="on"}}')


def test_what_the_console_shows_of_a_quantity_comes_from_its_entry() -> None:
    catalog = load_catalog()
    assert (catalog.quantity("temperature").symbol, catalog.quantity("pm2_5").symbol) == ("°C", "µg/m³")
    assert catalog.quantity("pm2_5").short_label("da") == "PM2,5"
    assert catalog.quantity("door_open").state_word(1.0) == "open"
    assert catalog.quantity("door_open").state_word(0.0, "da") == "lukket"
    assert catalog.quantity("co2").state_word(1.0) is None
    assert catalog.quantity("battery").needs_attention(9.0)
    assert not catalog.quantity("battery").needs_attention(20.0)
    assert not catalog.quantity("temperature").needs_attention(-30.0)


def test_a_misspelt_quantity_is_refused_with_the_name_it_was_meant_as() -> None:
    catalog = load_catalog()
    with pytest.raises(DecodeError, match="did you mean 'temperature'"):
        catalog.quantity("temprature")
    with pytest.raises(DecodeError, match="did you mean 'pm2_5'"):
        catalog.quantity("PM2_5")
    with pytest.raises(DecodeError) as far_off:
        catalog.quantity("colour")
    assert "did you mean" not in far_off.value.reason


@pytest.mark.parametrize(
    ("quantities", "kind"),
    [
        (["temperature", "humidity", "battery", "rssi"], "climate"),
        (["co2", "temperature", "humidity"], "air_quality"),  # CO2 is air quality's alone
        (["pm2_5", "pm10"], "air_quality"),
        (["temperature", "humidity", "wind_speed"], "weather"),
        (["illuminance"], "light"),  # light and weather both hold it: the smaller kind
        (["noise_laeq", "noise_lamax"], "noise"),
        (["battery", "rssi", "snr"], None),  # health says nothing of what it measures
        ([], None),
    ],
)
def test_a_kind_follows_from_the_quantities_a_device_sends(quantities: list[str], kind: str | None) -> None:
    assert load_catalog().kind_for(quantities) == kind
