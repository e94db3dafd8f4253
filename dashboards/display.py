"""How each catalog quantity is drawn: Grafana's unit id for its canonical unit, and the InfluxQL function
for how its readings combine (which the catalog entry names).

The unit table is checked against the catalog's units by the tests, so a unit added there without a line
here fails loudly instead of showing up as a bare number; a new quantity in a known unit needs nothing here.
"""

from __future__ import annotations

from enum import StrEnum

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.catalog.catalog import Quantity

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


def aggregate(quantity: str) -> Aggregate:
    """How readings of ``quantity`` combine within a time bucket, as its catalog entry says."""
    return Aggregate(load_catalog().quantities[quantity].aggregate)
