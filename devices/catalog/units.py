"""Unit tables: every unit the platform accepts, per dimension, as an affine map to the dimension's base.

A value v in unit u has base value ``v * scale + offset``. Only the units listed here are accepted;
anything else is rejected as ``unknown_unit`` rather than guessed. Symbols are per dimension, so "%"
can mean relative humidity for one quantity and remaining battery for another, and SenML's "%RH" and
"%EL" are accepted only where they make sense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Unit:
    """One accepted unit: ``base = value * scale + offset``."""

    symbol: str
    scale: float
    offset: float = 0.0


def _units(*units: Unit) -> dict[str, Unit]:
    return {unit.symbol: unit for unit in units}


_CELSIUS = 1.0
_PERCENT_OF_RATIO = 100.0

DIMENSIONS: dict[str, dict[str, Unit]] = {
    "temperature": _units(  # base: degC
        Unit("degC", _CELSIUS),
        Unit("°C", _CELSIUS),
        Unit("Cel", _CELSIUS),
        Unit("C", _CELSIUS),
        Unit("celsius", _CELSIUS),
        Unit("K", 1.0, -273.15),
        Unit("degF", 5 / 9, -160 / 9),
        Unit("°F", 5 / 9, -160 / 9),
        Unit("F", 5 / 9, -160 / 9),
        Unit("fahrenheit", 5 / 9, -160 / 9),
    ),
    "relative_humidity": _units(  # base: %
        Unit("%", 1.0),
        Unit("%RH", 1.0),
        Unit("percent", 1.0),
        Unit("/", _PERCENT_OF_RATIO),
        Unit("/100", 1.0),
    ),
    "percent": _units(Unit("%", 1.0), Unit("percent", 1.0), Unit("/", _PERCENT_OF_RATIO), Unit("/100", 1.0)),
    "battery_level": _units(
        Unit("%", 1.0),
        Unit("%EL", 1.0),
        Unit("percent", 1.0),
        Unit("/", _PERCENT_OF_RATIO),
        Unit("/100", 1.0),
    ),
    "mixing_ratio": _units(  # base: ppm
        Unit("ppm", 1.0),
        Unit("ppb", 1e-3),
        Unit("%vol", 1e4),
    ),
    "mass_concentration": _units(  # base: ug/m3
        Unit("ug/m3", 1.0),
        Unit("µg/m3", 1.0),
        Unit("μg/m3", 1.0),
        Unit("ug/m³", 1.0),
        Unit("µg/m³", 1.0),
        Unit("μg/m³", 1.0),
        Unit("mg/m3", 1e3),
        Unit("mg/m³", 1e3),
        Unit("ng/m3", 1e-3),
        Unit("kg/m3", 1e9),
    ),
    "pressure": _units(  # base: Pa
        Unit("Pa", 1.0),
        Unit("hPa", 100.0),
        Unit("mbar", 100.0),
        Unit("kPa", 1e3),
        Unit("bar", 1e5),
        Unit("MPa", 1e6),
    ),
    "sound_level": _units(Unit("dB(A)", 1.0), Unit("dBA", 1.0)),
    "illuminance": _units(Unit("lux", 1.0), Unit("lx", 1.0)),
    "count": _units(Unit("count", 1.0), Unit("1", 1.0)),
    "length": _units(  # base: m
        Unit("m", 1.0),
        Unit("mm", 1e-3),
        Unit("cm", 1e-2),
        Unit("km", 1e3),
        Unit("in", 0.0254),
        Unit("ft", 0.3048),
    ),
    "speed": _units(  # base: m/s
        Unit("m/s", 1.0),
        Unit("km/h", 1 / 3.6),
        Unit("mph", 0.44704),
        Unit("kn", 1852 / 3600),
    ),
    "angle": _units(Unit("deg", 1.0), Unit("°", 1.0), Unit("rad", 180 / math.pi)),
    "voltage": _units(Unit("V", 1.0), Unit("mV", 1e-3), Unit("kV", 1e3)),
    "current": _units(Unit("A", 1.0), Unit("mA", 1e-3)),
    "power": _units(Unit("W", 1.0), Unit("mW", 1e-3), Unit("kW", 1e3), Unit("MW", 1e6)),
    "energy": _units(  # base: J
        Unit("J", 1.0),
        Unit("Wh", 3600.0),
        Unit("kWh", 3.6e6),
        Unit("MWh", 3.6e9),
    ),
    "power_level": _units(Unit("dBm", 1.0), Unit("dBW", 1.0, 30.0)),
    "ratio_level": _units(Unit("dB", 1.0)),
}


@dataclass(frozen=True, slots=True)
class Conversion:
    """``canonical = value * factor + shift``, precomputed once per (quantity, unit)."""

    factor: float
    shift: float

    def apply(self, value: float) -> float:
        return value * self.factor + self.shift


IDENTITY = Conversion(1.0, 0.0)


def conversion(dimension: str, source: str, target: str) -> Conversion | None:
    """The affine map from ``source`` to ``target`` within ``dimension``; None if source is not accepted."""
    units = DIMENSIONS[dimension]
    src = units.get(source)
    if src is None:
        return None
    dst = units[target]
    if src.scale == dst.scale and src.offset == dst.offset:
        return IDENTITY
    return Conversion(src.scale / dst.scale, (src.offset - dst.offset) / dst.scale)
