"""How a model uses a channel: which parts become catalog readings, and how encode fills the channel.

Channels (channels.py) only know bytes; a slot adds the catalog meaning, so the same layout can mean
a PIR state on one model and a tilt flag on another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from iot_suitcase.devices.codecs.base import CodecError
from iot_suitcase.devices.codecs.milesight_iot.channels import Channel
from iot_suitcase.devices.reading import RawReading


@dataclass(frozen=True, slots=True)
class Field:
    """A channel part that becomes a reading: ``reading = part value * factor`` in ``unit``."""

    part: str
    quantity: str
    unit: str | None
    factor: float = 1.0


@dataclass(frozen=True, slots=True)
class Slot:
    """One channel as one model uses it.

    ``gate`` decides from the parsed values whether the fields are readings at all (a C-weighted sound
    level is not a dB(A) one); ``timestamp`` names the part holding the readings' epoch seconds
    (history records); ``encodes`` marks the channel ``encode`` writes for its quantities, and
    ``preset`` gives the values of its other parts.
    """

    channel: Channel
    fields: tuple[Field, ...] = ()
    timestamp: str | None = None
    encodes: bool = False
    gate: Callable[[Mapping[str, float]], bool] | None = None
    preset: Callable[[Mapping[str, float]], dict[str, float]] | None = None

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(field.quantity for field in self.fields)

    def readings(self, values: Mapping[str, float]) -> list[RawReading]:
        """The catalog readings in one parsed record of this channel."""
        if self.gate is not None and not self.gate(values):
            return []
        time = None if self.timestamp is None else datetime.fromtimestamp(values[self.timestamp], UTC)
        return [RawReading(f.quantity, values[f.part] * f.factor, f.unit, time) for f in self.fields]

    def record(self, quantities: Mapping[str, float]) -> bytes:
        """This channel's bytes for the quantities it carries (values in the units ``readings`` uses)."""
        missing = [f.quantity for f in self.fields if f.quantity not in quantities]
        if missing:
            raise CodecError(f"milesight: {self.channel.describe()} also needs {', '.join(missing)}")
        values = {f.part: quantities[f.quantity] / f.factor for f in self.fields}
        if self.preset is not None:
            values.update(self.preset(values))
        return self.channel.record(values)

    def span(self, quantity: str) -> tuple[float, float]:
        """The range of ``quantity`` this channel can carry, in the reading's unit."""
        field = next(f for f in self.fields if f.quantity == quantity)
        part = next(p for p in self.channel.values if p.name == field.part)
        low, high = part.span
        return low * field.factor, high * field.factor

    def resolution(self, quantity: str) -> float:
        """The step between two encodable values of ``quantity``, in the reading's unit."""
        field = next(f for f in self.fields if f.quantity == quantity)
        part = next(p for p in self.channel.values if p.name == field.part)
        return field.factor / part.divisor
