"""What each Decentlab model's sensors send: the 16-bit words per flag bit and their documented conversions.

Decentlab documents every value as a linear function of one word (``x / 10``, ``175.72 * x / 65536 - 46.85``,
``x * 2``), so one small table per model drives both decoding and its inverse. A field without a catalog
quantity is still listed: it occupies a word, and encoding must fill it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from iot_suitcase.devices.codecs.base import CodecError
from iot_suitcase.devices.codecs.decentlab.protocol import MAX_WORD


@dataclass(frozen=True, slots=True)
class Field:
    """One word of a sensor: ``value = mul * word / div + offset`` in ``unit`` (the vendor's order of operations)."""

    name: str
    quantity: str | None
    unit: str | None = None
    mul: float = 1.0
    div: float = 1.0
    offset: float = 0.0
    default: int = 0  # the word encode writes for a field the catalog leaves out

    def value(self, word: int) -> float:
        return self.mul * word / self.div + self.offset

    @property
    def resolution(self) -> float:
        return abs(self.mul / self.div)

    def word(self, model: str, value: float) -> int:
        """The word that decodes closest to ``value``, or a ``CodecError`` if 16 bits cannot hold it."""
        if not math.isfinite(value):
            raise CodecError(f"{model}: {self.name} {value} is not a finite number")
        word = round((value - self.offset) * self.div / self.mul)
        if not 0 <= word <= MAX_WORD:
            low, high = sorted((self.value(0), self.value(MAX_WORD)))
            raise CodecError(
                f"{model}: {self.name} {value:g} {self.unit} is outside what its 16-bit word holds "
                f"({low:g} to {high:g} {self.unit})"
            )
        return word


def _always(_words: Sequence[int]) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Sensor:
    """The words one flag bit announces; ``valid`` says whether they hold a measurement at all."""

    fields: tuple[Field, ...]
    valid: Callable[[Sequence[int]], bool] = _always

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(field.quantity for field in self.fields if field.quantity is not None)


_BATTERY = Field("battery voltage", "battery_voltage", "V", div=1000)
_MBX_SAMPLES_PER_MEASUREMENT = 15  # the DL-MBX datasheet: each measurement takes 15 distance samples


def _mbx_has_valid_samples(words: Sequence[int]) -> bool:
    """A DL-MBX distance is the result of its valid samples; with none, the distance word measures nothing."""
    return words[1] > 0


def _pm_mass(name: str, quantity: str) -> Field:
    return Field(f"{name} mass concentration", quantity, "ug/m3", div=10)


def _pm_count(name: str) -> Field:
    return Field(f"{name} number concentration", None)


SENSORS: dict[str, tuple[Sensor, ...]] = {
    # https://www.decentlab.com/products/ultrasonic-distance-/-level-sensor-for-lorawan
    "decentlab/dl-mbx": (
        Sensor(
            (
                Field("distance", "distance", "mm"),
                Field("number of valid samples", None, default=_MBX_SAMPLES_PER_MEASUREMENT),
            ),
            valid=_mbx_has_valid_samples,
        ),
        Sensor((_BATTERY,)),
    ),
    # https://www.decentlab.com/products/particulate-matter-temperature-humidity-and-barometric-pressure-sensor-for-lorawan
    "decentlab/dl-pm": (
        Sensor((_BATTERY,)),
        Sensor(
            (
                _pm_mass("PM1.0", "pm1"),
                _pm_mass("PM2.5", "pm2_5"),
                _pm_mass("PM4", "pm4"),
                _pm_mass("PM10", "pm10"),
                Field("typical particle size", None),
                _pm_count("PM0.5"),
                _pm_count("PM1.0"),
                _pm_count("PM2.5"),
                _pm_count("PM4"),
                _pm_count("PM10"),
            )
        ),
        Sensor(
            (
                Field("air temperature", "temperature", "degC", mul=175.72, div=65536, offset=-46.85),
                Field("air humidity", "humidity", "%", mul=125, div=65536, offset=-6),
            )
        ),
        Sensor((Field("barometric pressure", "pressure", "Pa", mul=2),)),
    ),
}
