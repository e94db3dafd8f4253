"""Canonical values -> a LoRaWAN model's payload bytes, through the model's own codec, and back.

A codec's ``encode`` takes values in the vendor's units (an Elsys battery in mV, a Decentlab pressure in
Pa). Rather than keep a second table of vendor units here, each model's units are learnt once by a
round trip: encode typical values, decode them, read the units the codec states. What the platform will
store is then computed the way the platform computes it: the codec's decode, converted by the catalog.
So resolution (Elsys humidity in whole percent, Milesight ozone in 0.01 ppm steps) is accounted for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.catalog.units import conversion
from iot_suitcase.devices.codecs import MODELS, CodecError, DeviceModel, codec_for


def typical(quantity: str) -> float:
    """The catalog's typical value: also valid when a codec reads it in its own unit (3.6 "mV" still encodes)."""
    return load_catalog().quantities[quantity].typical


_RETRIES = 3


class EncodingError(ValueError):
    """The simulator could not make the model's codec carry these values (a simulator bug, not a fault)."""


@dataclass(frozen=True, slots=True)
class Uplink:
    """Payload bytes and what the platform reads from them: quantity -> (value, unit) as the codec states it."""

    fport: int
    payload: bytes
    stated: dict[str, tuple[float, str | None]]
    encoded: dict[str, float]  # the canonical values given to the codec (after any nudge)

    def canonical(self) -> dict[str, float]:
        """The values the platform stores, before its range check."""
        return {quantity: to_canonical(quantity, value, unit) for quantity, (value, unit) in self.stated.items()}


def to_canonical(quantity: str, value: float, unit: str | None) -> float:
    """``value`` in ``unit`` converted to the catalog unit, by the catalog's own conversion (no range check)."""
    found = load_catalog().quantity(quantity)
    if unit is None or unit == found.unit:
        return value
    convert = conversion(found.dimension, unit, found.unit)
    if convert is None:
        raise EncodingError(f"{quantity}: the codec states unit {unit!r}, which the catalog does not accept")
    return convert.apply(value)


def from_canonical(quantity: str, value: float, unit: str | None) -> float:
    """The inverse of ``to_canonical``."""
    found = load_catalog().quantity(quantity)
    if unit is None or unit == found.unit:
        return value
    convert = conversion(found.dimension, found.unit, unit)
    if convert is None:
        raise EncodingError(f"{quantity}: no conversion from {found.unit} to {unit!r}")
    return convert.apply(value)


class ModelEncoder:
    """Encodes canonical values for one model; knows the model's units and which quantity can go over range."""

    def __init__(self, model: DeviceModel) -> None:
        self.model = model
        self._codec = codec_for(model.id)
        self.units: dict[str, str | None] = {}
        probe = self._round_trip({q: typical(q) for q in model.quantities})
        missing = sorted(set(model.quantities) - set(probe.stated))
        if missing:
            raise EncodingError(f"{model.id}: typical values of {missing} do not come back from the codec")
        self.units = {quantity: unit for quantity, (_, unit) in probe.stated.items()}
        self.over_range_quantity = self._find_over_range_quantity()

    def _round_trip(self, canonical: Mapping[str, float]) -> Uplink:
        """Encode canonical values in the model's units (identity while probing them), and decode the bytes."""
        vendor = {q: from_canonical(q, v, self.units.get(q)) for q, v in canonical.items()}
        payload = self._codec.encode(self.model.id, self.model.fport, vendor)
        readings = self._codec.decode(self.model.id, self.model.fport, payload)
        return Uplink(self.model.fport, payload, {r.quantity: (r.value, r.unit) for r in readings}, dict(canonical))

    def encode(self, canonical: Mapping[str, float]) -> Uplink:
        """An uplink carrying every value. A value the codec cannot send as it is (Dragino's 0.0 degC means
        "no probe"; Decentlab's humidity word rounds 100 % to 100.001 %) is moved one catalog step towards
        the middle of its range; ``Uplink.encoded`` says what was sent."""
        values = dict(canonical)
        problem = ""
        for _ in range(_RETRIES + 1):
            try:
                uplink = self._round_trip(values)
            except CodecError as error:
                problem = error.reason
                values = self._unblocked(values)
                continue
            lost = [q for q in values if q not in uplink.stated]
            outside = [q for q, v in uplink.canonical().items() if not _plausible(q, v)]
            if not lost and not outside:
                return uplink
            problem = f"the codec dropped {lost}" if lost else f"rounding took {outside} out of range"
            values = {**values, **{q: _moved(q, values[q]) for q in lost or outside}}
        raise EncodingError(f"{self.model.id}: cannot encode {dict(canonical)}: {problem}")

    def _unblocked(self, values: dict[str, float]) -> dict[str, float]:
        """``values`` with the one value moved whose move lets the codec encode them (else all unchanged)."""
        for quantity, value in values.items():
            trial = {**values, quantity: _moved(quantity, value)}
            try:
                self._round_trip(trial)
            except CodecError:
                continue
            return trial
        return values

    def encode_over_range(self, canonical: Mapping[str, float]) -> Uplink | None:
        """An uplink in which one value is above its catalog range, or None if no field of the model can hold one."""
        quantity = self.over_range_quantity
        if quantity is None:
            return None
        try:
            return self._round_trip({**canonical, quantity: above_range(quantity)})
        except CodecError:  # another value the codec refuses as is: the caller falls back to the radio
            return None

    def _find_over_range_quantity(self) -> str | None:
        catalog = load_catalog()
        for quantity in self.model.quantities:
            values = {q: typical(q) for q in self.model.quantities} | {quantity: above_range(quantity)}
            try:
                uplink = self._round_trip(values)
            except (CodecError, EncodingError):
                continue
            if quantity in uplink.stated and uplink.canonical()[quantity] > catalog.quantity(quantity).max:
                return quantity
        return None


def _plausible(quantity: str, value: float) -> bool:
    found = load_catalog().quantity(quantity)
    return found.min <= value <= found.max


def above_range(quantity: str) -> float:
    """A value clearly above the quantity's plausible range (a quarter of the range over its maximum)."""
    found = load_catalog().quantity(quantity)
    return round(found.max + max(1.0, 0.25 * (found.max - found.min)), found.decimals)


def _moved(quantity: str, value: float) -> float:
    """One catalog step towards the middle of the range (a 0/1 state stays: it has no neighbour)."""
    spec = load_catalog().quantity(quantity)
    if spec.max - spec.min <= 1.0:
        return value
    step = 10.0**-spec.decimals
    return value + step if value < (spec.min + spec.max) / 2.0 else value - step


@cache
def encoder(model_id: str) -> ModelEncoder:
    """The encoder of a ``vendor/model`` that has a codec (built once)."""
    codec_for(model_id)  # a no_codec DecodeError naming the known models, for an unknown one
    return ModelEncoder(MODELS[model_id])
