"""Waste bins: a saw-tooth fill level that climbs through the day and drops to near empty on emptying days.

Each bin has its own emptying weekdays (one to three a week, at about 07:00) and its own filling speed,
so some bins overflow before the truck comes (they stay at 100 %). An ultrasonic sensor in the lid
measures the distance down to the rubbish: full is about 300 mm, empty is that plus the bin's depth.
"""

from __future__ import annotations

import math

from iot_suitcase.simulators.signals.calendar import DAY_S, Moment, local_timestamp, moment
from iot_suitcase.simulators.signals.context import Context
from iot_suitcase.simulators.signals.noise import bounded, mix, normal, text_key, unit

_FILL = text_key("fill_level")
_DISTANCE = text_key("distance")
_EMPTY_HOUR = 7.0
SENSOR_GAP_MM = 300.0  # lid to the full line: ultrasonic sensors cannot measure closer (Dragino: 280 mm)


def emptying_days(ctx: Context) -> tuple[int, ...]:
    """The weekdays (0 Monday) this bin is emptied: busy city bins more often."""
    per_week = 1 + math.floor(3.0 * unit(ctx.seed, _FILL, 1))
    first = math.floor(7.0 * unit(ctx.seed, _FILL, 2))
    return tuple(sorted({(first + round(i * 7 / per_week)) % 7 for i in range(per_week)}))


def last_emptied(ctx: Context, at: Moment) -> float:
    """Epoch seconds of the most recent emptying at or before ``at``."""
    days = emptying_days(ctx)
    for back in range(8):
        day = moment(at.t - back * DAY_S)
        if day.weekday in days:
            emptied = local_timestamp(day.t, _EMPTY_HOUR + 0.5 * unit(ctx.seed, _FILL, 3))
            if emptied <= at.t:
                return emptied
    return at.t - 7.0 * DAY_S  # unreachable: every bin has at least one day a week


def fill_level(ctx: Context, at: Moment, _dt: float) -> float:
    """% full: what was thrown in since the last emptying, faster in the daytime."""
    days = len(emptying_days(ctx))
    per_day = (100.0 / (7.0 / days)) * (0.6 + 0.7 * unit(ctx.seed, _FILL, 4))
    elapsed_days = (at.t - last_emptied(ctx, at)) / DAY_S
    # the daytime bulge integrates to zero over a day, so the mean rate stays per_day
    daytime = 0.12 * math.sin(2.0 * math.pi * (at.hour - 9.0) / 24.0)
    residue = 3.0 * unit(ctx.seed, _FILL, 5)  # a bin is never quite empty
    level = residue + per_day * elapsed_days - per_day * daytime * 0.3
    level += 1.5 * normal(ctx.seed, _FILL, math.floor(at.t * 1000.0))
    return bounded(level, 0.0, 100.0)


def bin_depth_mm(ctx: Context) -> float:
    return 850.0 + 500.0 * unit(ctx.seed, _DISTANCE)


def distance(ctx: Context, at: Moment, dt: float) -> float:
    """mm from the sensor down to the rubbish."""
    depth = bin_depth_mm(ctx)
    level = SENSOR_GAP_MM + (1.0 - fill_level(ctx, at, dt) / 100.0) * depth
    level += 4.0 * normal(mix(ctx.seed, _DISTANCE), math.floor(at.t * 1000.0))
    return bounded(level, SENSOR_GAP_MM, SENSOR_GAP_MM + 1400.0)
