"""The guidance values of thresholds.toml: public limits per quantity, and battery thresholds.

Kept in one data file with their sources so that a reviewer can check every number against its document,
and a city can add its own without touching code.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from iot_suitcase.devices.catalog import Catalog

# Rule uids are "suitcase-" + id, and Grafana allows at most 40 characters in a uid.
_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,30}$"


class Period(StrEnum):
    """What a guidance value is defined over."""

    INSTANT = "instant"
    HOUR = "1h"
    EIGHT_HOURS = "8h"
    DAY = "24h"
    YEAR = "year"
    LDEN = "lden"
    LNIGHT = "lnight"

    @property
    def window_s(self) -> int | None:
        """Seconds a mean is taken over when checking the value; None if it cannot be checked from readings."""
        return _WINDOWS.get(self)

    @property
    def drawn(self) -> bool:
        """Annual means say nothing about the hours a dashboard shows; everything else is drawn."""
        return self is not Period.YEAR


# "instant" values are checked on the mean of the last 10 minutes so that one noisy reading does not alert.
_WINDOWS = {Period.INSTANT: 600, Period.HOUR: 3600, Period.EIGHT_HOURS: 8 * 3600, Period.DAY: 24 * 3600}


class Guidance(BaseModel):
    """One public guidance or limit value for one quantity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=_ID_PATTERN)
    quantity: str
    value: float
    period: Period
    name: str = Field(min_length=1, max_length=80, pattern=r"^[^$]*$")
    source: str = Field(min_length=10)

    @property
    def alerting(self) -> bool:
        return self.period.window_s is not None

    @property
    def label(self) -> str:
        """How the value is named on a panel: name, value, period."""
        return f"{self.name}: {self.value:g} ({self.period.value})"


class BatteryThreshold(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    percent_below: float = Field(gt=0, lt=100)
    source: str = Field(min_length=10)


class VoltageThreshold(BaseModel):
    """A replacement voltage a vendor states for one model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*$")
    volts_below: float = Field(gt=0, le=30)
    source: str = Field(min_length=10)


class Thresholds(BaseModel):
    """Everything in thresholds.toml, checked as a whole."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_for_minutes: int = Field(ge=0, le=24 * 60)
    guidance: tuple[Guidance, ...]
    battery: BatteryThreshold
    battery_voltage: tuple[VoltageThreshold, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Self:
        ids = [entry.id for entry in self.guidance]
        twice = sorted({found for found in ids if ids.count(found) > 1})
        if twice:
            raise ValueError(f"guidance ids given twice: {twice}")
        models = [entry.model for entry in self.battery_voltage]
        if len(set(models)) != len(models):
            raise ValueError("a model has two battery_voltage thresholds")
        return self

    def check_against(self, catalog: Catalog) -> None:
        """Raise unless every guidance names a catalog quantity and lies inside its plausible range."""
        for entry in self.guidance:
            quantity = catalog.quantities.get(entry.quantity)
            if quantity is None:
                raise ValueError(f"guidance {entry.id}: {entry.quantity!r} is not a catalog quantity")
            if not quantity.min < entry.value < quantity.max:
                raise ValueError(f"guidance {entry.id}: {entry.value:g} is outside {quantity.name}'s plausible range")

    def for_quantity(self, quantity: str, *, drawn_only: bool = True) -> tuple[Guidance, ...]:
        """The quantity's guidance values, lowest first."""
        found = [g for g in self.guidance if g.quantity == quantity and (g.period.drawn or not drawn_only)]
        return tuple(sorted(found, key=lambda g: g.value))

    def voltage_thresholds(self) -> Mapping[str, VoltageThreshold]:
        return {entry.model: entry for entry in self.battery_voltage}


def parse_thresholds(text: str) -> Thresholds:
    return Thresholds.model_validate(tomllib.loads(text))


@cache
def load_thresholds() -> Thresholds:
    """The shipped dashboards/thresholds.toml, validated (also against the catalog by the tests)."""
    return parse_thresholds(files("iot_suitcase.dashboards").joinpath("thresholds.toml").read_text(encoding="utf-8"))
