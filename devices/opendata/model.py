"""What a municipality publishes as open data (#19 point 1): nothing unless chosen, per site, device or quantity,
under a licence with an attribution, and with privacy rules that are on by default for sensitive kinds.

Privacy, decided once here for every public response:

- counts of people and bicycles (catalog quantities summed over time, ``aggregate = "sum"``) are published as
  sums per ``count_bucket_s`` (an hour), never as the single counts a sensor sent;
- indoor quantities (``indoor = true`` in the catalog: a municipal building's rooms) are published as means per
  ``indoor_bucket_s``, and only once ``indoor_delay_s`` has passed;
- a device that measures anything indoor has its location rounded to ``indoor_round_deg`` (about 1 km).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# SPDX identifier -> the licence's page, as DCAT and SensorThings responses name it
LICENCES = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
}
DEFAULT_LICENCE = "CC-BY-4.0"


class Scope(StrEnum):
    """What one choice publishes: a site's devices, one device, or a quantity of every device."""

    SITE = "site"
    DEVICE = "device"
    QUANTITY = "quantity"


@dataclass(frozen=True, slots=True)
class Choice:
    scope: Scope
    value: str


@dataclass(frozen=True, slots=True)
class Privacy:
    """How a published quantity's readings are shown: ``raw``, or ``sum``/``mean`` per bucket after a delay."""

    treatment: str = "raw"
    bucket_s: int = 0
    delay_s: int = 0

    @property
    def aggregated(self) -> bool:
        return self.treatment != "raw"


@dataclass(frozen=True, slots=True)
class OpenDataRules:
    """A scope's open-data settings (the installation's, or a tenant's: each has its own file)."""

    licence: str = DEFAULT_LICENCE
    attribution: str = ""
    choices: tuple[Choice, ...] = ()
    count_bucket_s: int = 3600
    indoor_bucket_s: int = 3600
    indoor_delay_s: int = 3600
    indoor_round_deg: float = 0.01
    title: str = ""  # the publisher's name in the catalogue (the attribution, if empty)

    @property
    def licence_url(self) -> str:
        return LICENCES[self.licence]

    def chooses(self, scope: Scope, value: str) -> bool:
        return Choice(scope, value) in self.choices


def rounded(value: float, step: float) -> float:
    """``value`` to the nearest multiple of ``step`` (a coordinate to about a kilometre at 0.01)."""
    if step <= 0:
        return value
    return round(round(value / step) * step, max(0, -math.floor(math.log10(step))))
