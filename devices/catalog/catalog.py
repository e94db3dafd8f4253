"""The sensor catalog: quantities with canonical units and plausible ranges, and the kinds that group them."""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from iot_suitcase.devices.catalog.units import DIMENSIONS, Conversion, conversion
from iot_suitcase.devices.errors import DecodeError, RejectCode

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
# Canonical units as people read them; a unit not named here reads as it is written (ppm, hPa, dB(A)).
DISPLAY_SYMBOLS = {"degC": "°C", "ug/m3": "µg/m³", "deg": "°", "count": ""}


class Quantity(BaseModel):
    """A measured quantity: its canonical unit, the units that convert to it, its plausible range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    unit: str
    dimension: str
    min: float
    max: float
    decimals: int = Field(ge=0, le=6)
    description: str
    description_da: str
    short: str = Field(min_length=1, max_length=24)
    short_da: str = Field(min_length=1, max_length=24)
    states: dict[str, str] | None = None
    states_da: dict[str, str] | None = None
    attention_below: float | None = None
    typical: float
    typical_range: tuple[float, float]
    indoor: bool = False
    aggregate: Literal["mean", "sum", "max", "last"] = "mean"

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.dimension not in DIMENSIONS:
            raise ValueError(f"{self.name}: unknown dimension {self.dimension!r}")
        if self.unit not in DIMENSIONS[self.dimension]:
            raise ValueError(f"{self.name}: canonical unit {self.unit!r} is not in dimension {self.dimension}")
        if not self.min < self.max:
            raise ValueError(f"{self.name}: min {self.min} must be below max {self.max}")
        low, high = self.typical_range
        if not self.min <= low < high <= self.max:
            raise ValueError(f"{self.name}: typical_range [{low}, {high}] must be a range inside [min, max]")
        if not low <= self.typical <= high:
            raise ValueError(f"{self.name}: typical {self.typical} must lie in typical_range")
        if (self.states is None) != (self.states_da is None) or (
            self.states and set(self.states) != set(self.states_da or {})
        ):
            raise ValueError(f"{self.name}: states and states_da must name the same values")
        return self

    def label(self, language: str = "en") -> str:
        """The quantity's name for people, in Danish ("da") or English."""
        return self.description_da if language == "da" else self.description

    def short_label(self, language: str = "en") -> str:
        return self.short_da if language == "da" else self.short

    @property
    def symbol(self) -> str:
        """The unit as people read it: °C, µg/m³; nothing for a count."""
        return DISPLAY_SYMBOLS.get(self.unit, self.unit)

    def state_word(self, value: float, language: str = "en") -> str | None:
        """The word for a 0/1 state ("open"), or None for a quantity that is a number."""
        words = self.states_da if language == "da" else self.states
        return words.get(f"{value:g}") if words else None

    def needs_attention(self, value: float) -> bool:
        return self.attention_below is not None and value < self.attention_below

    @property
    def accepted_units(self) -> list[str]:
        return list(DIMENSIONS[self.dimension])


class Kind(BaseModel):
    """A sort of sensor (climate, air quality, ...): the quantities it reports, shown on one dashboard."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    title: str
    quantities: tuple[str, ...] = Field(min_length=1)


HEALTH_KIND = "device_health"


class Catalog:
    """Looks quantities up and turns (quantity, value, unit) into a canonical, range-checked value."""

    def __init__(self, quantities: dict[str, Quantity], kinds: dict[str, Kind]) -> None:
        for kind in kinds.values():
            unknown = [q for q in kind.quantities if q not in quantities]
            if unknown:
                raise ValueError(f"kind {kind.name} names unknown quantities: {unknown}")
        self.quantities = quantities
        self.kinds = kinds
        self._conversions: dict[tuple[str, str], Conversion | None] = {}

    def quantity(self, name: str) -> Quantity:
        found = self.quantities.get(name)
        if found is None:
            close = difflib.get_close_matches(name.lower(), self.quantities, n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DecodeError(
                RejectCode.UNKNOWN_QUANTITY,
                f"unknown quantity {name!r}{hint}; known: {', '.join(sorted(self.quantities))}",
            )
        return found

    def kinds_of(self, quantity: str) -> list[str]:
        return [kind.name for kind in self.kinds.values() if quantity in kind.quantities]

    def kind_for(self, quantities: Iterable[str]) -> str | None:
        """The kind a device sending ``quantities`` is, when nobody said: first the kind holding most of the
        quantities no other kind holds (CO2: air quality), then the one its quantities point to most, a quantity
        of fewer kinds pointing harder; on a tie the smaller kind, then the first in the catalog. None when no
        kind holds any. Device health (battery, radio) says nothing about what a sensor measures: left out."""
        measured = set(quantities) - set(self.kinds[HEALTH_KIND].quantities if HEALTH_KIND in self.kinds else ())
        candidates = [kind for kind in self.kinds.values() if kind.name != HEALTH_KIND]
        holders = {q: sum(1 for kind in candidates if q in kind.quantities) for q in measured}
        scored = []
        for index, kind in enumerate(candidates):
            held = [q for q in measured if q in kind.quantities]
            own = sum(1 for q in held if holders[q] == 1)
            scored.append((own, sum(1 / holders[q] for q in held), -len(kind.quantities), -index, kind.name))
        best = max(scored, default=None)
        return best[4] if best is not None and best[1] > 0 else None

    def canonical_value(self, quantity: Quantity, value: float, unit: str | None) -> float:
        """Convert ``value`` from ``unit`` (None: already canonical) and check the plausible range."""
        if not math.isfinite(value):
            raise DecodeError(RejectCode.NOT_FINITE, f"{quantity.name}: value {value} is not a finite number")
        if unit is not None and unit != quantity.unit:
            value = self._conversion(quantity, unit).apply(value)
        if not quantity.min <= value <= quantity.max:
            raise DecodeError(
                RejectCode.OUT_OF_RANGE,
                f"{quantity.name}: {value:g} {quantity.unit} is outside the plausible range "
                f"[{quantity.min:g}, {quantity.max:g}] {quantity.unit}",
            )
        return value

    def _conversion(self, quantity: Quantity, unit: str) -> Conversion:
        key = (quantity.name, unit)
        if key not in self._conversions:
            self._conversions[key] = conversion(quantity.dimension, unit, quantity.unit)
        found = self._conversions[key]
        if found is None:
            raise DecodeError(
                RejectCode.UNKNOWN_UNIT,
                f"{quantity.name}: unknown unit {unit!r}; accepted: {', '.join(quantity.accepted_units)}",
            )
        return found


def parse_catalog(text: str) -> Catalog:
    """Build a catalog from the TOML text of quantities.toml (validated; raises on any mistake)."""
    data = tomllib.loads(text)
    quantities = {
        name: Quantity.model_validate({"name": name, **spec}) for name, spec in data.get("quantities", {}).items()
    }
    kinds = {name: Kind.model_validate({"name": name, **spec}) for name, spec in data.get("kinds", {}).items()}
    return Catalog(quantities, kinds)


def catalog_text() -> str:
    """The TOML of the catalog shipped with the package (devices/catalog/quantities.toml)."""
    return files("iot_suitcase.devices.catalog").joinpath("quantities.toml").read_text(encoding="utf-8")


@cache
def load_catalog() -> Catalog:
    """The catalog, loaded once per process."""
    return parse_catalog(catalog_text())
