"""Water: a river or harbour gauge that rises after rain and recedes over days; leak sensors that are mostly dry.

The gauge sums the response to the site's rain of the last week (the same rain the rain gauges report,
climate.slot_rain_rate): each wet slot lifts the level after a few hours' delay and drains away
exponentially. Leak sensors have rare, hours-long wet episodes.
"""

from __future__ import annotations

import math

from iot_suitcase.simulators.signals.calendar import DAY_S, Moment
from iot_suitcase.simulators.signals.climate import RAIN_SLOT_S, slot_rain_rate
from iot_suitcase.simulators.signals.context import Context
from iot_suitcase.simulators.signals.noise import bounded, normal, text_key, unit

_LEVEL = text_key("water_level")
_LEAK = text_key("water_leak")
_MEMORY_SLOTS = round(7 * DAY_S / RAIN_SLOT_S)
_RISE_S = 4 * 3600.0
_RECESSION_S = 1.5 * DAY_S
_LEAK_SLOT_S = 12 * 3600.0
_LEAK_CHANCE = 0.015
LEAK_THRESHOLD = 20.0  # % wetness above which a leak alarm reports 1


def water_level(ctx: Context, at: Moment, _dt: float) -> float:
    """m above the gauge's datum: a base level, a little higher in winter, plus the rain of the last week."""
    base = 0.6 + 1.8 * unit(ctx.seed, _LEVEL) + 0.25 * at.winter
    catchment = 0.004 + 0.01 * unit(ctx.seed, _LEVEL, 1)  # metres per mm of rain over a slot
    now_slot = math.floor(at.t / RAIN_SLOT_S)
    response = 0.0
    for slot in range(now_slot - _MEMORY_SLOTS, now_slot + 1):
        rate = slot_rain_rate(ctx.site_seed, slot)
        if rate == 0.0:
            continue
        since = at.t - (slot + 1) * RAIN_SLOT_S
        if since < -RAIN_SLOT_S:
            continue
        rising = 1.0 - math.exp(-max(0.0, since + RAIN_SLOT_S) / _RISE_S)
        response += catchment * rate * 3.0 * rising * math.exp(-max(0.0, since) / _RECESSION_S)
    noise = 0.005 * normal(ctx.seed, _LEVEL, math.floor(at.t * 1000.0))
    return bounded(base + response + noise, -1.0, 8.0)


def water_leak_level(ctx: Context, at: Moment, _dt: float) -> float:
    """% of the sensor's full scale that is wet: 0 almost always, 30-100 during a leak."""
    slot = math.floor(at.t / _LEAK_SLOT_S)
    if unit(ctx.seed, _LEAK, slot) >= _LEAK_CHANCE:
        return 0.0
    return bounded(30.0 + 70.0 * unit(ctx.seed, _LEAK, slot, 1), 0.0, 100.0)


def water_leak(ctx: Context, at: Moment, dt: float) -> float:
    """1 while a leak is detected, else 0 (consistent with ``water_leak_level``)."""
    return 1.0 if water_leak_level(ctx, at, dt) >= LEAK_THRESHOLD else 0.0
