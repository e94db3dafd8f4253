"""How each catalog quantity is shown: Grafana's unit id for its canonical unit, and how readings combine.

The catalog says what a quantity *is* (unit, range, decimals); this says how a dashboard draws it. Both
tables are checked against the catalog by the tests, so a quantity or unit added there without a line
here fails loudly instead of showing up as a bare number.
"""

from __future__ import annotations

from enum import StrEnum

from devices.catalog.catalog import Quantity

# Catalog canonical unit -> Grafana unit id (Grafana's `valueFormats`; `suffix:` is Grafana's custom-unit syntax).
GRAFANA_UNITS: dict[str, str] = {
    "degC": "celsius",
    "ppm": "ppm",
    "ppb": "conppb",
    "ug/m3": "conμgm3",
    "hPa": "pressurehpa",
    "dB(A)": "dB",
    "dB": "dB",
    "dBm": "dBm",
    "lux": "lux",
    "count": "none",
    "mm": "lengthmm",
    "m": "lengthm",
    "V": "volt",
    "A": "amp",
    "W": "watt",
    "kWh": "kwatth",
    "m/s": "velocityms",
    "deg": "degree",
}

# "%" means different things: relative humidity has its own Grafana unit; everything else is a plain percentage.
_PERCENT_UNITS = {"relative_humidity": "humidity"}


def grafana_unit(quantity: Quantity) -> str:
    """The Grafana unit id for a quantity's canonical unit (KeyError if the catalog grew a unit not mapped here)."""
    if quantity.unit == "%":
        return _PERCENT_UNITS.get(quantity.dimension, "percent")
    return GRAFANA_UNITS[quantity.unit]


class Aggregate(StrEnum):
    """InfluxQL function that turns the readings inside one time bucket into the value drawn."""

    MEAN = "mean"
    SUM = "sum"  # counts "since the previous message": a bucket's total is what happened in it
    MAX = "max"  # 0/1 states: whether the state was on at all during the bucket
    LAST = "last"  # meter readings: the newest value is the reading


_AGGREGATES: dict[str, Aggregate] = {
    "motion": Aggregate.SUM,
    "people_count": Aggregate.SUM,
    "bike_count": Aggregate.SUM,
    "door_openings": Aggregate.SUM,
    "rain": Aggregate.SUM,
    "occupancy": Aggregate.MAX,
    "door_open": Aggregate.MAX,
    "water_leak": Aggregate.MAX,
    "energy": Aggregate.LAST,
}


def aggregate(quantity: str) -> Aggregate:
    """How readings of ``quantity`` combine within a time bucket (mean unless the quantity says otherwise)."""
    return _AGGREGATES.get(quantity, Aggregate.MEAN)
