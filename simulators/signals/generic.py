"""A plausible signal for any catalog quantity that has no model of its own yet, from its catalog entry.

So a quantity added to the catalog alone is simulated at once: values drift smoothly around its
``typical`` value inside its ``typical_range``; a 0/1 state (``aggregate = "max"``) switches now and then;
a count since the previous message (``aggregate = "sum"``) is a Poisson count around that drifting level.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from iot_suitcase.devices.catalog.catalog import Quantity
from iot_suitcase.simulators.signals.calendar import Moment
from iot_suitcase.simulators.signals.context import Context
from iot_suitcase.simulators.signals.noise import bounded, fractal, mix, poisson, text_key, unit

_DRIFT_PERIOD_S = 6 * 3600.0
_STATE_PERIOD_S = 1800.0


def signal_for(quantity: Quantity) -> Callable[[Context, Moment, float], float]:
    key = text_key(quantity.name)
    low, high = quantity.typical_range
    typical = quantity.typical

    def level(ctx: Context, at: Moment) -> float:
        swing = fractal(mix(ctx.seed, key), at.t, _DRIFT_PERIOD_S)  # in [-1, 1]
        reach = (high - typical) if swing > 0 else (typical - low)
        return bounded(typical + swing * reach, low, high)

    def state(ctx: Context, at: Moment, _dt: float) -> float:
        slot = math.floor(at.t / _STATE_PERIOD_S)
        return high if unit(ctx.seed, key, slot) < 0.3 else low

    def count(ctx: Context, at: Moment, _dt: float) -> float:
        return bounded(float(poisson(max(level(ctx, at), 0.0), ctx.seed, key, math.floor(at.t))), low, high)

    def value(ctx: Context, at: Moment, _dt: float) -> float:
        return level(ctx, at)

    if quantity.aggregate == "max":
        return state
    if quantity.aggregate == "sum":
        return count
    return value
