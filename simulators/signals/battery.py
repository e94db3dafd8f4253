"""Batteries: years of slow decay, then a replacement (so any moment has a plausible charge).

A lithium thionyl chloride cell (the usual 3.6 V LoRaWAN battery) keeps its voltage flat for most of its
life and drops at the end; cold makes the voltage sag a little. Each device has its own lifetime (2 to 6
years) and its own point in that life.
"""

from __future__ import annotations

import math

from iot_suitcase.simulators.signals.calendar import DAY_S, YEAR_DAYS, Moment
from iot_suitcase.simulators.signals.context import Context
from iot_suitcase.simulators.signals.noise import bounded, normal, text_key, unit

_BATTERY = text_key("battery")
_YEAR_S = YEAR_DAYS * DAY_S


def charge(ctx: Context, t: float) -> float:
    """Remaining charge 0.05..1 at epoch second ``t``; a new battery after each lifetime."""
    lifetime = (2.0 + 4.0 * unit(ctx.seed, _BATTERY)) * _YEAR_S
    installed = unit(ctx.seed, _BATTERY, 1) * lifetime
    age = math.fmod(t - installed, lifetime)
    if age < 0.0:
        age += lifetime
    return bounded(1.0 - 0.95 * (age / lifetime) ** 1.3, 0.05, 1.0)


def battery(ctx: Context, at: Moment, _dt: float) -> float:
    """% remaining, as the device estimates it."""
    return bounded(100.0 * charge(ctx, at.t), 5.0, 100.0)


def battery_voltage(ctx: Context, at: Moment, _dt: float) -> float:
    """V: flat near 3.6 V for most of the life, falling at the end, sagging a little in the cold."""
    left = charge(ctx, at.t)
    volts = 3.66 - 0.12 * (1.0 - left) - 0.55 * (1.0 - left) ** 8 - 0.03 * at.winter
    volts += 0.004 * normal(ctx.seed, _BATTERY, math.floor(at.t * 1000.0))
    return bounded(volts, 2.9, 3.7)
