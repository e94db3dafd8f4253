"""SenML written as a device writes it: the inverse of decoder.py."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.formats.base import Encoded, FormatContext, Sent
from iot_suitcase.devices.formats.senml.decoder import TOPIC_LEVEL
from iot_suitcase.devices.timestamps import epoch_seconds

# SenML units (RFC 8428 registry) for the quantities that have one, with the factor from the catalog unit;
# the rest go without a unit (the catalog's canonical one). Never "%": in SenML it is a ratio of 0..1.
SENML_UNITS: dict[str, tuple[str, float]] = {
    "temperature": ("Cel", 1.0),
    "humidity": ("%RH", 1.0),
    "pressure": ("Pa", 100.0),
    "illuminance": ("lx", 1.0),
    "battery": ("%EL", 1.0),
    "battery_voltage": ("V", 1.0),
    "voltage": ("V", 1.0),
    "current": ("A", 1.0),
    "power": ("W", 1.0),
    "distance": ("m", 0.001),
    "water_level": ("m", 1.0),
    "wind_speed": ("m/s", 1.0),
    "co2": ("ppm", 1.0),
    "rssi": ("dBm", 1.0),
}


def encode(device_id: str, values: Mapping[str, float], time: datetime, context: FormatContext) -> Encoded:
    """A pack on ``<root>/<device>/senml``: base name ``<device>:`` and base time on the first record, one
    record per quantity, in its SenML unit (rounded to the catalog's decimals in that unit) where it has one."""
    catalog = load_catalog()
    records: list[dict[str, Any]] = []
    sent: list[Sent] = []
    for quantity, value in values.items():
        record: dict[str, Any] = {"n": quantity}
        unit = SENML_UNITS.get(quantity)
        if unit is None:
            record["v"] = value
            sent.append((quantity, value, None))
        else:
            symbol, factor = unit
            decimals = max(0, catalog.quantity(quantity).decimals - round(math.log10(factor)))
            converted = round(value * factor, decimals)
            record |= {"u": symbol, "v": converted}
            sent.append((quantity, converted, symbol))
        records.append(record)
    if records:
        records[0] = {"bn": f"{device_id}:", "bt": epoch_seconds(time)} | records[0]
    return Encoded(f"{context.topic_root}/{device_id}/{TOPIC_LEVEL}", records, tuple(sent))
