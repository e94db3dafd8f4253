"""Checks and fields shared by Dragino's fixed-layout uplinks: one fPort, one length, a status+battery word."""

from __future__ import annotations

import math
from collections.abc import Mapping

from iot_suitcase.devices.codecs.base import CodecError

BATTERY_MASK = 0x3FFF  # the low 14 bits of the first word are the battery in mV; the top bits are status flags


def check_frame(model: str, fport: int, payload: bytes, *, port: int, size: int, layout: str) -> None:
    """Reject an uplink on another fPort or of another length than the model's one documented frame."""
    if fport != port:
        raise CodecError(f"{model}: uplinks arrive on fPort {port}, got fPort {fport}")
    if len(payload) != size:
        raise CodecError(f"{model}: an uplink is {size} bytes ({layout}), got {len(payload)} bytes")


def battery_volts(payload: bytes) -> float:
    """The battery word's mV as volts, the way Dragino's decoders state it (``BAT_V``)."""
    return (int.from_bytes(payload[0:2], "big") & BATTERY_MASK) / 1000


def battery_word(model: str, values: Mapping[str, float]) -> int:
    """The battery field for ``battery_voltage`` in V, which every uplink carries."""
    volts = required(model, values, "battery_voltage", "the battery")
    return integer_in(model, "battery_voltage", volts * 1000, low=0, high=BATTERY_MASK, unit="mV")


def required(model: str, values: Mapping[str, float], quantity: str, what: str) -> float:
    """A value every uplink of the model carries, so encode cannot leave it out."""
    if quantity not in values:
        raise CodecError(f"{model}: every uplink carries {what}; give {quantity}")
    return finite(model, quantity, values[quantity])


def finite(model: str, quantity: str, value: float) -> float:
    if not math.isfinite(value):
        raise CodecError(f"{model}: {quantity} {value} is not a finite number")
    return value


def integer_in(model: str, quantity: str, value: float, *, low: int, high: int, unit: str) -> int:
    """``value`` rounded to the integer the field carries, if the field can hold it."""
    number = round(finite(model, quantity, value))
    if not low <= number <= high:
        raise CodecError(
            f"{model}: {quantity} {value:g} {unit} is outside what the field holds ({low} to {high} {unit})"
        )
    return number


def reject_unknown(model: str, values: Mapping[str, float], known: tuple[str, ...]) -> None:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise CodecError(f"{model}: cannot encode {', '.join(unknown)}; it sends {', '.join(known)}")
