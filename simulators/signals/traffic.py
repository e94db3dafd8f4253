"""Street traffic: rush hours on weekdays, a late and flat Saturday, a quiet Sunday; noise, bikes, NO2, PM, O3.

Road noise follows traffic (about 45 dB(A) at night, 70 dB(A) in the rush hour at the kerb); NO2 is mostly
exhaust, so it follows traffic and winter inversions; particulate matter is a regional background (weather)
plus road dust and wood stoves in winter; ozone is made by sunlight and eaten by NO.
"""

from __future__ import annotations

import math

from iot_suitcase.simulators.signals.calendar import DAY_S, Moment, sun_elevation
from iot_suitcase.simulators.signals.context import Context
from iot_suitcase.simulators.signals.noise import bounded, fractal, mix, normal, poisson, text_key, unit

_NOISE = text_key("noise")
_LAMAX = text_key("noise_lamax")
_BIKES = text_key("bike_count")
_NO2 = text_key("no2")
_PM = text_key("pm")
_O3 = text_key("o3")

# PM size fractions as ratios to PM2.5, so PM1 <= PM2.5 <= PM4 <= PM10 always holds.
PM_RATIOS = {"pm1": 0.72, "pm2_5": 1.0, "pm4": 1.12}


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


def traffic(at: Moment) -> float:
    """Traffic as a share of the weekday morning peak, 0..1."""
    night = 0.05
    if at.weekday == 6:  # Sunday
        return night + 0.35 * _bump(at.hour, 14.0, 3.5)
    if at.weekday == 5:  # Saturday
        return night + 0.5 * _bump(at.hour, 13.0, 3.5)
    daytime = 0.5 * _bump(at.hour, 12.5, 4.0)
    return min(1.0, night + daytime + 0.8 * _bump(at.hour, 8.0, 0.9) + 0.55 * _bump(at.hour, 16.3, 1.1))


def _sample_noise(ctx: Context, at: Moment, key: int, sigma: float) -> float:
    return sigma * normal(ctx.seed, key, math.floor(at.t * 1000.0))


def noise_laeq(ctx: Context, at: Moment, _dt: float) -> float:
    """dB(A), equivalent level over the measurement period."""
    street = 4.0 * normal(ctx.seed, _NOISE)  # a quiet side street or a main road
    level = 44.0 + 26.0 * traffic(at) + street + 2.0 * fractal(mix(ctx.seed, _NOISE), at.t, 6 * 3600.0)
    return bounded(level + _sample_noise(ctx, at, _NOISE, 1.0), 30.0, 95.0)


def noise_lamax(ctx: Context, at: Moment, dt: float) -> float:
    """dB(A), loudest moment of the period: a passing bus or siren above the Leq."""
    peak = 7.0 + 14.0 * unit(ctx.seed, _LAMAX, math.floor(at.t * 1000.0))
    return bounded(noise_laeq(ctx, at, dt) + peak, 30.0, 125.0)


def bike_count(ctx: Context, at: Moment, dt: float) -> float:
    """Bicycles passing since the previous message: commuter peaks, fewer in winter."""
    lane = 60.0 + 180.0 * unit(ctx.seed, _BIKES)  # bikes per hour at the peak
    mean = lane * traffic(at) * (1.0 - 0.45 * at.winter) * max(0.0, dt) / 3600.0
    return float(min(100_000, poisson(mean, ctx.seed, _BIKES, math.floor(at.t * 1000.0))))


def no2(ctx: Context, at: Moment, _dt: float) -> float:
    """ug/m3: exhaust, higher in winter when the air mixes less."""
    regional = 6.0 * fractal(mix(ctx.site_seed, _NO2), at.t, 2.0 * DAY_S)
    level = 9.0 + 50.0 * traffic(at) * (1.0 + 0.5 * at.winter) + regional
    return bounded(level + _sample_noise(ctx, at, _NO2, 2.0), 1.0, 250.0)


def pm2_5(ctx: Context, at: Moment, _dt: float) -> float:
    """ug/m3: regional background moved by the weather, plus traffic and winter wood stoves."""
    background = 7.0 + 5.0 * fractal(mix(ctx.site_seed, _PM), at.t, 2.5 * DAY_S)
    stoves = 6.0 * at.winter * _bump(at.hour, 20.0, 3.0)
    level = background + stoves + 4.0 * traffic(at) + _sample_noise(ctx, at, _PM, 0.6)
    return bounded(level, 1.0, 150.0)


def pm1(ctx: Context, at: Moment, dt: float) -> float:
    return bounded(pm2_5(ctx, at, dt) * PM_RATIOS["pm1"], 0.5, 120.0)


def pm4(ctx: Context, at: Moment, dt: float) -> float:
    return bounded(pm2_5(ctx, at, dt) * PM_RATIOS["pm4"], 1.0, 170.0)


def pm10(ctx: Context, at: Moment, dt: float) -> float:
    """ug/m3: PM2.5 plus coarse road dust, which traffic and dry wind stir up."""
    coarse = 1.25 + 0.5 * traffic(at) + 0.3 * unit(ctx.seed, _PM)
    return bounded(pm2_5(ctx, at, dt) * coarse, 1.5, 260.0)


def o3(ctx: Context, at: Moment, dt: float) -> float:
    """ug/m3: made in sunlight, titrated by the NO of traffic."""
    sun = max(0.0, math.sin(math.radians(sun_elevation(at.t, ctx.lat, ctx.lon))))
    regional = 12.0 * fractal(mix(ctx.site_seed, _O3), at.t, 3.0 * DAY_S)
    level = 50.0 + 45.0 * sun + regional - 0.35 * no2(ctx, at, dt)
    return bounded(level + _sample_noise(ctx, at, _O3, 2.0), 2.0, 180.0)
