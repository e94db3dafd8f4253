"""Signals: inside the catalog's ranges for any seed and time, deterministic, and shaped like the city."""

from __future__ import annotations

import itertools
import math
import statistics
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.simulators.signals import (
    SIGNALS,
    Context,
    Radio,
    battery,
    climate,
    energy,
    noise,
    occupancy,
    radio,
    sample,
    traffic,
    waste,
    water,
)
from iot_suitcase.simulators.signals.calendar import DAY_S, moment, sun_elevation

EPOCH_2000 = 946_684_800
EPOCH_2100 = 4_102_444_800
HOUR = 3600.0


def ctx(seed: int = 1, *, site: int = 2, indoor: bool = False, lora: bool = False, km: float = 1.0) -> Context:
    return Context(seed=seed, site_seed=site, indoor=indoor, radio=Radio.LORA if lora else Radio.WIFI, gateway_km=km)


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_every_catalog_quantity_has_a_signal() -> None:
    assert set(SIGNALS) == set(load_catalog().quantities)


contexts = st.builds(
    Context,
    seed=st.integers(0, 2**64 - 1),
    site_seed=st.integers(0, 2**64 - 1),
    lat=st.floats(55.9, 56.4),
    lon=st.floats(9.9, 10.5),
    indoor=st.booleans(),
    radio=st.sampled_from(list(Radio)),
    gateway_km=st.floats(0.0, 15.0),
)


@settings(max_examples=300, deadline=None)
@given(context=contexts, t=st.floats(EPOCH_2000, EPOCH_2100), dt=st.floats(0.0, 3 * DAY_S))
def test_values_stay_inside_the_catalog_ranges(context: Context, t: float, dt: float) -> None:
    catalog = load_catalog()
    values = sample(context, SIGNALS, t, dt)
    for name, value in values.items():
        quantity = catalog.quantity(name)
        assert math.isfinite(value), name
        assert quantity.min <= value <= quantity.max, (name, value)
        assert value == round(value, quantity.decimals), (name, value)


@settings(max_examples=100, deadline=None)
@given(context=contexts, t=st.floats(EPOCH_2000, EPOCH_2100), dt=st.floats(0.0, DAY_S))
def test_related_quantities_stay_consistent(context: Context, t: float, dt: float) -> None:
    values = sample(context, SIGNALS, t, dt)
    assert values["pm1"] <= values["pm2_5"] <= values["pm4"] <= values["pm10"]
    assert values["noise_lamax"] >= values["noise_laeq"]
    assert values["water_leak"] == (1.0 if values["water_leak_level"] >= water.LEAK_THRESHOLD else 0.0)


@settings(max_examples=50, deadline=None)
@given(context=contexts, t=st.floats(EPOCH_2000 + DAY_S, EPOCH_2100), dt=st.floats(0.0, DAY_S))
def test_the_same_arguments_give_the_same_values(context: Context, t: float, dt: float) -> None:
    assert sample(context, SIGNALS, t, dt) == sample(context, SIGNALS, t, dt)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), t1=st.floats(EPOCH_2000, EPOCH_2100), step=st.floats(0.0, 400 * DAY_S))
def test_the_energy_meter_never_runs_backwards(seed: int, t1: float, step: float) -> None:
    device = ctx(seed)
    assert energy.energy(device, moment(t1), 0) <= energy.energy(device, moment(t1 + step), 0)


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), t1=st.floats(EPOCH_2000, EPOCH_2100), step=st.floats(0.0, 400 * DAY_S))
def test_the_door_switchs_running_total_never_runs_backwards(seed: int, t1: float, step: float) -> None:
    device = ctx(seed)
    earlier, later = (occupancy.door_openings_total(device, moment(t), 0) for t in (t1, t1 + step))
    assert earlier <= later
    assert later == int(later)


def test_local_time_follows_danish_summer_time() -> None:
    winter = moment(utc("2026-11-22T10:00:00"))  # a Sunday; CET is UTC+1
    summer = moment(utc("2026-07-01T10:00:00"))  # a Wednesday; CEST is UTC+2
    assert (winter.weekday, winter.hour, winter.weekend) == (6, 11.0, True)
    assert (summer.weekday, summer.hour, summer.weekend) == (2, 12.0, False)
    assert winter.winter > 0.7
    assert summer.winter < 0.2


def test_the_sun_stands_high_at_midsummer_noon_and_below_the_horizon_at_midnight() -> None:
    noon = sun_elevation(utc("2026-06-21T11:15:00"), 56.15, 10.2)
    assert 55.0 < noon < 59.0  # 90 - 56.15 + 23.44 = 57.3
    assert sun_elevation(utc("2026-06-21T23:15:00"), 56.15, 10.2) < 0
    assert sun_elevation(utc("2026-12-21T11:15:00"), 56.15, 10.2) < 11.0


def _mean(function: object, device: Context, times: list[float], dt: float = 600.0) -> float:
    return statistics.fmean(function(device, moment(t), dt) for t in times)  # type: ignore[operator]


def days(first: str, count: int, hour_utc: float, step_days: int = 1) -> list[float]:
    start = utc(first)
    return [start + i * step_days * DAY_S + hour_utc * HOUR for i in range(count)]


def test_afternoons_are_warmer_than_nights_and_july_warmer_than_january() -> None:
    device = ctx()
    afternoons = _mean(climate.temperature, device, days("2026-04-01", 60, 13.0))
    nights = _mean(climate.temperature, device, days("2026-04-01", 60, 2.0))
    assert afternoons > nights + 2.0
    july = _mean(climate.temperature, device, days("2026-07-01", 31, 12.0))
    january = _mean(climate.temperature, device, days("2026-01-01", 31, 12.0))
    assert 12.0 < july < 24.0
    assert -4.0 < january < 6.0
    assert july > january + 8.0


def test_indoor_rooms_are_heated_and_humid_air_is_wetter_outside() -> None:
    room = ctx(indoor=True)
    outside = ctx()
    winter_days = days("2026-01-05", 30, 10.0)
    assert 19.0 < _mean(climate.temperature, room, winter_days) < 25.0
    assert _mean(climate.humidity, outside, winter_days) > _mean(climate.humidity, room, winter_days) + 20.0


def test_office_co2_rises_on_weekday_mornings_and_stays_low_on_sundays() -> None:
    room = ctx(indoor=True)
    weekdays = days("2026-11-02", 5, 10.0)  # Monday to Friday, 11:00 local
    sundays = days("2026-11-01", 6, 10.0, step_days=7)
    assert _mean(occupancy.co2, room, weekdays) > _mean(occupancy.co2, room, sundays) + 250.0
    assert _mean(occupancy.co2, room, sundays) < 500.0
    assert occupancy.presence(moment(sundays[0])) < 0.05
    assert occupancy.presence(moment(weekdays[0])) > 0.8


def test_counters_count_the_interval_since_the_previous_message() -> None:
    room = ctx(indoor=True)
    busy = days("2026-11-02", 5, 10.0)
    short = _mean(occupancy.people_count, room, busy, dt=60.0)
    long = _mean(occupancy.people_count, room, busy, dt=3600.0)
    assert long > 10 * short > 0


def test_street_noise_peaks_in_the_weekday_rush_hour() -> None:
    street = ctx()
    rush = days("2026-11-02", 5, 7.0)  # 08:00 local
    night = days("2026-11-02", 5, 2.0)
    sunday_morning = days("2026-11-01", 5, 7.0, step_days=7)
    assert _mean(traffic.noise_laeq, street, rush) > _mean(traffic.noise_laeq, street, night) + 15.0
    assert traffic.traffic(moment(sunday_morning[0])) < 0.3
    assert traffic.traffic(moment(rush[0])) > 0.9
    assert _mean(traffic.bike_count, street, rush, dt=3600) > _mean(traffic.bike_count, street, night, dt=3600) * 5


def test_bins_fill_up_and_are_emptied_on_their_days() -> None:
    for seed in range(20):
        bin_ = ctx(seed)
        emptied = waste.last_emptied(bin_, moment(utc("2026-11-20T12:00:00")))
        assert moment(emptied).weekday in waste.emptying_days(bin_)
        before = waste.fill_level(bin_, moment(emptied - 60.0), 600)
        after = waste.fill_level(bin_, moment(emptied + 60.0), 600)
        assert after < 10.0 < before
        later = waste.fill_level(bin_, moment(emptied + DAY_S), 600)
        assert later > after
        assert waste.distance(bin_, moment(emptied + 60.0), 600) > waste.distance(bin_, moment(emptied - 60.0), 600)


def test_rain_adds_up_the_site_showers_and_lifts_the_water_level() -> None:
    site = 77
    gauge = ctx(site=site)
    day_start = utc("2026-10-01T00:00:00")
    slots = [math.floor(day_start / climate.RAIN_SLOT_S) + i for i in range(8)]
    rain_day = climate.rain(gauge, moment(day_start + DAY_S), DAY_S)
    assert rain_day == pytest.approx(sum(climate.slot_rain_rate(site, s) * 3 for s in slots))
    heavy = next(
        slot
        for slot in range(math.floor(day_start / climate.RAIN_SLOT_S), 10**9)
        if climate.slot_rain_rate(site, slot) > 4.0
    )
    before = water.water_level(gauge, moment(heavy * climate.RAIN_SLOT_S - 60.0), 600)
    after = water.water_level(gauge, moment((heavy + 3) * climate.RAIN_SLOT_S), 600)
    assert after > before + 0.02


def test_batteries_drain_slowly_until_they_are_replaced() -> None:
    device = ctx(5)
    start = utc("2026-01-01T00:00:00")
    series = [battery.charge(device, start + week * 7 * DAY_S) for week in range(52 * 6)]
    replacements = sum(1 for a, b in itertools.pairwise(series) if b > a)
    assert 1 <= replacements <= 3  # lifetimes are 2 to 6 years
    assert min(series) < 0.3
    assert max(series) > 0.9


def test_lora_signal_weakens_with_distance_and_indoors() -> None:
    times = [utc("2026-11-02T00:00:00") + i * 600.0 for i in range(200)]
    near = statistics.fmean(radio.lora_reception(ctx(3, lora=True), t, 0.3)[0] for t in times)
    far = statistics.fmean(radio.lora_reception(ctx(3, lora=True), t, 5.0)[0] for t in times)
    inside = statistics.fmean(radio.lora_reception(ctx(3, lora=True, indoor=True), t, 0.3)[0] for t in times)
    assert near > far + 25.0
    assert near > inside + 8.0
    assert all(-20.0 <= radio.lora_reception(ctx(3, lora=True), t, 8.0)[1] <= 12.0 for t in times)


def test_noise_primitives() -> None:
    draws = [noise.unit(9, i) for i in range(10_000)]
    assert min(draws) >= 0.0
    assert max(draws) < 1.0
    assert statistics.fmean(draws) == pytest.approx(0.5, abs=0.02)
    assert noise.unit(9, 1) != noise.unit(9, 2)
    gaps = [abs(noise.smooth(4, t, 3600.0) - noise.smooth(4, t + 1.0, 3600.0)) for t in range(0, 86_400, 97)]
    assert max(gaps) < 0.01  # smooth: one second moves a one-hour noise very little
    counts = [noise.poisson(4.0, 11, i) for i in range(5000)]
    assert statistics.fmean(counts) == pytest.approx(4.0, rel=0.05)
    assert statistics.fmean(noise.poisson(200.0, 12, i) for i in range(2000)) == pytest.approx(200.0, rel=0.02)
    assert noise.text_key("dokk1") == noise.text_key("dokk1") != noise.text_key("viby")
