"""Weather and indoor climate: daily temperature cycles with weather noise, humidity, pressure, wind, rain, light,
and a temperature probe.

Aarhus figures: about 1 degC in January and 17 degC in July (DMI normals, rounded), days warmest mid-afternoon,
weather systems passing in two to four days, westerly winds. Devices of one site share the weather
(``site_seed``) and differ by a small microclimate offset and sensor noise.
"""

from __future__ import annotations

import math

from iot_suitcase.simulators.signals.calendar import DAY_S, YEAR_DAYS, Moment, sun_elevation
from iot_suitcase.simulators.signals.context import Context
from iot_suitcase.simulators.signals.noise import bounded, fractal, mix, normal, text_key, unit

_TEMPERATURE = text_key("temperature")
_PROBE = text_key("external_temperature")
_HUMIDITY = text_key("humidity")
_PRESSURE = text_key("pressure")
_WIND = text_key("wind")
_DIRECTION = text_key("wind_direction")
_CLOUD = text_key("cloud")
_RAIN = text_key("rain")
_LIGHT = text_key("light")

RAIN_SLOT_S = 3 * 3600.0  # rain falls in 3-hour showers or spells
_RAIN_CHANCE = 0.12  # share of 3-hour slots with rain: Aarhus has rain on about a third of days
_MAX_RAIN_MM_PER_H = 12.0
_LUX_CLEAR_SKY = 120_000.0


def _measurement_noise(ctx: Context, at: Moment, key: int, sigma: float) -> float:
    return sigma * normal(ctx.seed, key, math.floor(at.t * 1000.0))


def daily_mean_temperature(ctx: Context, at: Moment) -> float:
    """Outdoor temperature without the daily cycle: season plus passing weather."""
    season = 9.0 - 8.0 * math.cos(2.0 * math.pi * (at.day_of_year - 20.0) / YEAR_DAYS)
    weather = 4.5 * fractal(mix(ctx.site_seed, _TEMPERATURE), at.t, 3.0 * DAY_S)
    return season + weather


def outdoor_temperature(ctx: Context, at: Moment) -> float:
    amplitude = 2.0 + 2.5 * (1.0 - at.winter)  # summer days swing more
    cycle = amplitude * math.cos(2.0 * math.pi * (at.hour - 15.0) / 24.0)
    microclimate = 0.6 * normal(ctx.seed, _TEMPERATURE)
    return daily_mean_temperature(ctx, at) + cycle + microclimate


def temperature(ctx: Context, at: Moment, _dt: float) -> float:
    """degC: outdoors a daily cycle on the season and the weather; indoors a heated room, cooler at night."""
    noise = _measurement_noise(ctx, at, _TEMPERATURE, 0.1)
    if ctx.indoor:
        working = not at.weekend and 7.0 <= at.hour < 18.0
        room = 21.5 + (0.0 if working else -1.2) + 0.8 * normal(ctx.seed, _TEMPERATURE, 1)
        drift = 0.6 * fractal(mix(ctx.seed, _TEMPERATURE), at.t, DAY_S) + 0.04 * (outdoor_temperature(ctx, at) - 10.0)
        return bounded(room + drift + noise, 14.0, 30.0)
    return bounded(outdoor_temperature(ctx, at) + noise, -30.0, 38.0)


def external_temperature(ctx: Context, at: Moment, _dt: float) -> float:
    """degC at a probe outside the sensor's housing (in the ground, on a pipe): the season and the weather,
    damped, without the daily cycle."""
    noise = _measurement_noise(ctx, at, _PROBE, 0.05)
    return bounded(3.0 + 0.7 * daily_mean_temperature(ctx, at) + noise, -20.0, 30.0)


def humidity(ctx: Context, at: Moment, _dt: float) -> float:
    """%: outdoors high at night and in rain, lower on warm afternoons; indoors drier in winter."""
    noise = _measurement_noise(ctx, at, _HUMIDITY, 0.8)
    if ctx.indoor:
        return bounded(
            42.0 - 10.0 * at.winter + 6.0 * fractal(mix(ctx.seed, _HUMIDITY), at.t, DAY_S) + noise, 18.0, 70.0
        )
    afternoon = outdoor_temperature(ctx, at) - daily_mean_temperature(ctx, at)
    wet = 12.0 if rain_rate(ctx, at.t) > 0.0 else 0.0
    base = 80.0 + 6.0 * at.winter + 9.0 * fractal(mix(ctx.site_seed, _HUMIDITY), at.t, 2.0 * DAY_S)
    return bounded(base - 3.0 * afternoon + wet + noise, 25.0, 100.0)


def pressure(ctx: Context, at: Moment, _dt: float) -> float:
    """hPa at sea level: highs and lows passing over a few days (the same indoors)."""
    weather = 15.0 * fractal(mix(ctx.site_seed, _PRESSURE), at.t, 4.0 * DAY_S, octaves=2)
    return bounded(1013.0 + weather + _measurement_noise(ctx, at, _PRESSURE, 0.2), 960.0, 1050.0)


def wind_speed(ctx: Context, at: Moment, _dt: float) -> float:
    """m/s: windier in winter and in the afternoon, with gusts."""
    base = 5.0 + 1.5 * at.winter + 4.0 * fractal(mix(ctx.site_seed, _WIND), at.t, 1.5 * DAY_S)
    afternoon = 1.0 * math.cos(2.0 * math.pi * (at.hour - 14.0) / 24.0)
    gust = 1.2 * abs(_measurement_noise(ctx, at, _WIND, 1.0))
    return bounded(base + afternoon + gust, 0.0, 35.0)


def wind_direction(ctx: Context, at: Moment, _dt: float) -> float:
    """Degrees from north: mostly westerly, veering with the weather."""
    direction = 250.0 + 100.0 * fractal(mix(ctx.site_seed, _DIRECTION), at.t, 2.0 * DAY_S)
    direction += _measurement_noise(ctx, at, _DIRECTION, 12.0)
    return direction % 360.0


def rain_rate(ctx: Context, t: float) -> float:
    """mm/h falling at the site at ``t``: a slot either rains at its own rate or is dry."""
    slot = math.floor(t / RAIN_SLOT_S)
    return slot_rain_rate(ctx.site_seed, slot)


def slot_rain_rate(site_seed: int, slot: int) -> float:
    """mm/h of one 3-hour slot at a site (0 when dry): shared by the rain gauge and the water level."""
    if unit(site_seed, _RAIN, slot) >= _RAIN_CHANCE:
        return 0.0
    return 0.2 + _MAX_RAIN_MM_PER_H * unit(site_seed, _RAIN, slot, 1) ** 3  # mostly drizzle, sometimes a downpour


def rain(ctx: Context, at: Moment, dt: float) -> float:
    """mm fallen since the device's previous message (the slots it overlaps, pro rata)."""
    start = at.t - max(0.0, dt)
    total = 0.0
    slot = math.floor(start / RAIN_SLOT_S)
    while slot * RAIN_SLOT_S < at.t and total < 500.0:
        overlap = min(at.t, (slot + 1) * RAIN_SLOT_S) - max(start, slot * RAIN_SLOT_S)
        total += slot_rain_rate(ctx.site_seed, slot) * max(0.0, overlap) / 3600.0
        slot += 1
    return bounded(total, 0.0, 500.0)


def outdoor_illuminance(ctx: Context, at: Moment) -> float:
    """lux under the sky: the sun's height through the clouds; street lights after dark."""
    elevation = sun_elevation(at.t, ctx.lat, ctx.lon)
    if elevation <= 0.0:
        return 10.0 + 5.0 * unit(ctx.seed, _LIGHT)  # street lighting
    clouds = 0.55 + 0.45 * fractal(mix(ctx.site_seed, _CLOUD), at.t, 0.5 * DAY_S)
    return _LUX_CLEAR_SKY * math.pow(math.sin(math.radians(elevation)), 1.15) * clouds + 10.0


def illuminance(ctx: Context, at: Moment, _dt: float) -> float:
    """lux: daylight outdoors; indoors office lighting in working hours plus some daylight from windows."""
    if ctx.indoor:
        working = not at.weekend and 7.5 <= at.hour < 17.5
        lights = 420.0 + 60.0 * normal(ctx.seed, _LIGHT) if working else 0.0
        window = 0.015 * outdoor_illuminance(ctx, at)
        return bounded(lights + window + abs(_measurement_noise(ctx, at, _LIGHT, 3.0)), 0.0, 3000.0)
    return bounded(outdoor_illuminance(ctx, at) * (1.0 + _measurement_noise(ctx, at, _LIGHT, 0.02)), 0.0, 150_000.0)
