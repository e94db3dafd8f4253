"""Electricity meters on office buildings: mains voltage, a presence-shaped load, and a meter that only counts up.

The energy register must never run backwards, whatever moments are sampled, so it is the closed-form
integral of a base load plus a daily cycle; the reported power is that curve plus the office load and noise.
"""

from __future__ import annotations

import math

from iot_suitcase.simulators.signals.calendar import DAY_S, Moment
from iot_suitcase.simulators.signals.context import Context
from iot_suitcase.simulators.signals.noise import bounded, fractal, mix, normal, text_key, unit
from iot_suitcase.simulators.signals.occupancy import presence

_VOLTAGE = text_key("voltage")
_POWER = text_key("power")
_ENERGY = text_key("energy")
_EPOCH_2000 = 946_684_800.0
_DAILY_PEAK_S = 13 * 3600.0  # UTC, early afternoon in Aarhus


def _base_kw(ctx: Context) -> float:
    return 1.0 + 6.0 * unit(ctx.seed, _POWER)


def voltage(ctx: Context, at: Moment, _dt: float) -> float:
    """V: 230 V mains, sagging a little under load (EN 50160 allows +-10 %)."""
    level = 231.0 + 2.5 * fractal(mix(ctx.site_seed, _VOLTAGE), at.t, 6 * 3600.0) - 3.0 * presence(at)
    return bounded(level + 0.4 * normal(ctx.seed, _VOLTAGE, math.floor(at.t * 1000.0)), 207.0, 253.0)


def power(ctx: Context, at: Moment, _dt: float) -> float:
    """W: the building's base load with its daily cycle, plus people and their machines."""
    base = _base_kw(ctx) * (1.0 + 0.5 * math.sin(2.0 * math.pi * (at.t - _DAILY_PEAK_S) / DAY_S + math.pi / 2))
    office = 4.0 * _base_kw(ctx) * presence(at)
    watts = 1000.0 * (base + office) * (1.0 + 0.03 * normal(ctx.seed, _POWER, math.floor(at.t * 1000.0)))
    return bounded(watts, 50.0, 200_000.0)


def current(ctx: Context, at: Moment, dt: float) -> float:
    """A, single-phase equivalent of the power at the mains voltage."""
    return bounded(power(ctx, at, dt) / voltage(ctx, at, dt), 0.0, 1000.0)


def energy(ctx: Context, at: Moment, _dt: float) -> float:
    """kWh on the meter's register: monotonic in time by construction."""
    hours = (at.t - _EPOCH_2000) / 3600.0
    base = _base_kw(ctx)
    cycle_hours = 0.5 * base * (DAY_S / 3600.0) / (2.0 * math.pi)
    phase = 2.0 * math.pi * (at.t - _DAILY_PEAK_S) / DAY_S + math.pi / 2
    register = 5_000.0 + 50_000.0 * unit(ctx.seed, _ENERGY) + base * hours - cycle_hours * math.cos(phase)
    return bounded(register, 0.0, 1.0e8)
