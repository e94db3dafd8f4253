"""Realistic values for every catalog quantity, one small module per family of signals.

| module | quantities |
| --- | --- |
| ``climate`` | temperature, external_temperature, humidity, pressure, wind_speed, wind_direction, rain, illuminance |
| ``occupancy`` | co2, tvoc, occupancy, motion, people_count, door_openings (and their total), door_open |
| ``traffic`` | noise_laeq, noise_lamax, bike_count, no2, pm1, pm2_5, pm4, pm10, o3 (rush hours, weekends) |
| ``waste`` | fill_level, distance (bins: saw-tooth with emptying days) |
| ``water`` | water_level (rain events), water_leak_level, water_leak |
| ``battery`` | battery, battery_voltage (slow decay) |
| ``radio`` | rssi, snr (by distance) |
| ``energy`` | voltage, current, power, energy |
| ``generic`` | any other catalog quantity, from its catalog entry (typical value and range, how it aggregates) |

Every signal is a pure function of (device context, time, seconds since the previous message), so a
seed gives the same fleet on every run, and each stays inside its quantity's catalog range.
"""

from __future__ import annotations

from collections.abc import Iterable

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.simulators.signals import battery, climate, energy, occupancy, radio, traffic, waste, water
from iot_suitcase.simulators.signals.calendar import Moment, moment
from iot_suitcase.simulators.signals.context import Context, Radio, Signal
from iot_suitcase.simulators.signals.generic import signal_for

SIGNALS: dict[str, Signal] = {
    "temperature": climate.temperature,
    "external_temperature": climate.external_temperature,
    "humidity": climate.humidity,
    "pressure": climate.pressure,
    "wind_speed": climate.wind_speed,
    "wind_direction": climate.wind_direction,
    "rain": climate.rain,
    "illuminance": climate.illuminance,
    "co2": occupancy.co2,
    "tvoc": occupancy.tvoc,
    "occupancy": occupancy.occupancy,
    "motion": occupancy.motion,
    "people_count": occupancy.people_count,
    "door_openings": occupancy.door_openings,
    "door_openings_total": occupancy.door_openings_total,
    "door_open": occupancy.door_open,
    "noise_laeq": traffic.noise_laeq,
    "noise_lamax": traffic.noise_lamax,
    "bike_count": traffic.bike_count,
    "no2": traffic.no2,
    "pm1": traffic.pm1,
    "pm2_5": traffic.pm2_5,
    "pm4": traffic.pm4,
    "pm10": traffic.pm10,
    "o3": traffic.o3,
    "fill_level": waste.fill_level,
    "distance": waste.distance,
    "water_level": water.water_level,
    "water_leak_level": water.water_leak_level,
    "water_leak": water.water_leak,
    "battery": battery.battery,
    "battery_voltage": battery.battery_voltage,
    "rssi": radio.rssi,
    "snr": radio.snr,
    "voltage": energy.voltage,
    "current": energy.current,
    "power": energy.power,
    "energy": energy.energy,
}


def sample(ctx: Context, quantities: Iterable[str], t: float, dt: float) -> dict[str, float]:
    """The device's values at epoch second ``t``, rounded to the decimals the catalog shows."""
    quantities_by_name = load_catalog().quantities
    at = moment(t)
    return {
        name: round(signal(name)(ctx, at, dt), quantities_by_name[name].decimals) + 0.0  # + 0.0: no -0.0
        for name in quantities
    }


def signal(name: str) -> Signal:
    """The quantity's own model, or the generic one its catalog entry gives."""
    found = SIGNALS.get(name)
    return found if found is not None else signal_for(load_catalog().quantities[name])


__all__ = ["SIGNALS", "Context", "Moment", "Radio", "Signal", "moment", "sample", "signal"]
