"""Office hours: presence drives CO2, VOCs, desk and room occupancy, PIR motion, people and door counters.

Presence ramps up from 7 to 9, dips at lunch, empties from 16 to 18 on weekdays and stays near zero at
weekends. CO2 follows presence with a lag (a room fills with air people breathed out) over about 420 ppm
outdoors; counters are Poisson counts of a presence-shaped rate over the time since the previous message.
"""

from __future__ import annotations

import math

from iot_suitcase.simulators.signals.calendar import DAY_S, Moment, moment
from iot_suitcase.simulators.signals.context import Context
from iot_suitcase.simulators.signals.noise import bounded, fractal, mix, normal, poisson, text_key, unit

_CO2 = text_key("co2")
_TVOC = text_key("tvoc")
_OCCUPANCY = text_key("occupancy")
_MOTION = text_key("motion")
_PEOPLE = text_key("people_count")
_DOORS = text_key("door_openings")
_EPOCH_2000 = 946_684_800.0
_DOOR = text_key("door_open")

PIR_MAX_COUNT = 250  # a PIR counter saturates; Elsys' motion field holds at most 255
_CO2_LAG_S = 2700.0
_OUTDOOR_CO2 = 420.0


def _ramp(hour: float, start: float, end: float) -> float:
    """0 before ``start``, 1 after ``end``, smooth in between."""
    if hour <= start:
        return 0.0
    if hour >= end:
        return 1.0
    return (1.0 - math.cos(math.pi * (hour - start) / (end - start))) / 2.0


def presence(at: Moment) -> float:
    """Share of an office's people present, 0..1."""
    if at.weekend:
        return 0.04 * _ramp(at.hour, 9.0, 11.0) * (1.0 - _ramp(at.hour, 14.0, 16.0))
    arriving = _ramp(at.hour, 7.0, 9.0)
    leaving = 1.0 - _ramp(at.hour, 15.5, 18.0)
    lunch = 1.0 - 0.35 * math.exp(-(((at.hour - 12.0) / 0.6) ** 2))
    return 0.02 + 0.95 * arriving * leaving * lunch


def _room_size(ctx: Context) -> float:
    """How strongly this room reacts to its people: 0.6 (a hall) to 1.4 (a packed meeting room)."""
    return 0.6 + 0.8 * unit(ctx.seed, _CO2)


def co2(ctx: Context, at: Moment, _dt: float) -> float:
    """ppm: outdoor air plus what the present people breathed out, lagging presence by ~45 minutes."""
    lagged = presence(moment(at.t - _CO2_LAG_S))
    breathed = 650.0 * _room_size(ctx) * (0.5 * lagged + 0.5 * presence(at))
    ventilation = 40.0 * fractal(mix(ctx.seed, _CO2), at.t, 6 * 3600.0)
    noise = 8.0 * normal(ctx.seed, _CO2, math.floor(at.t * 1000.0))
    return bounded(_OUTDOOR_CO2 + breathed + ventilation + noise, 380.0, 5000.0)


def tvoc(ctx: Context, at: Moment, _dt: float) -> float:
    """ppb: cleaning products and people, highest in working hours."""
    base = 90.0 + 260.0 * presence(at) * _room_size(ctx) + 60.0 * fractal(mix(ctx.seed, _TVOC), at.t, 8 * 3600.0)
    return bounded(base + 10.0 * normal(ctx.seed, _TVOC, math.floor(at.t * 1000.0)), 0.0, 3000.0)


def occupancy(ctx: Context, at: Moment, _dt: float) -> float:
    """1 when the desk or room is taken at this moment, else 0."""
    taken = 0.03 + 0.85 * presence(at)
    return 1.0 if unit(ctx.seed, _OCCUPANCY, math.floor(at.t * 1000.0)) < taken else 0.0


def _count(ctx: Context, at: Moment, dt: float, key: int, per_hour_at_full: float) -> int:
    """A Poisson count of a presence-shaped rate over the ``dt`` seconds before ``at``."""
    middle = moment(at.t - max(0.0, dt) / 2.0)
    mean = per_hour_at_full * (0.5 * presence(middle) + 0.5 * presence(at)) * max(0.0, dt) / 3600.0
    return poisson(mean, ctx.seed, key, math.floor(at.t * 1000.0))


def motion(ctx: Context, at: Moment, dt: float) -> float:
    """PIR triggers since the previous message."""
    return float(min(PIR_MAX_COUNT, _count(ctx, at, dt, _MOTION, 200.0)))


def people_count(ctx: Context, at: Moment, dt: float) -> float:
    """People through an entrance since the previous message."""
    return float(min(100_000, _count(ctx, at, dt, _PEOPLE, 80.0 * _room_size(ctx))))


def door_openings(ctx: Context, at: Moment, dt: float) -> float:
    """Door openings since the previous message."""
    return float(min(60_000, _count(ctx, at, dt, _DOORS, 30.0)))


def door_openings_total(ctx: Context, at: Moment, _dt: float) -> float:
    """The door switch's running total: a closed-form count that only goes up, some ten openings an hour
    since the sensor was started (a seeded day since 2000)."""
    hours = max(0.0, at.t - _EPOCH_2000 - unit(ctx.seed, _DOORS, 1) * 3650 * DAY_S) / 3600.0
    return float(min(4_294_967_295, math.floor(10.0 * hours)))


def door_open(ctx: Context, at: Moment, _dt: float) -> float:
    """1 when the door is open at this moment, else 0."""
    chance = 0.02 + 0.12 * presence(at)
    return 1.0 if unit(ctx.seed, _DOOR, math.floor(at.t * 1000.0)) < chance else 0.0
