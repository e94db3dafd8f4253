"""Local time in Aarhus and the sun: what daily and weekly patterns of a Danish city hang on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

TIMEZONE = ZoneInfo("Europe/Copenhagen")
DAY_S = 86_400.0
YEAR_DAYS = 365.2422
WEEKEND = (5, 6)  # Saturday, Sunday (Monday is 0)


@dataclass(frozen=True, slots=True)
class Moment:
    """One instant, with the local clock readings signals need."""

    t: float  # epoch seconds
    hour: float  # local hour of day, 0 <= hour < 24
    weekday: int  # 0 Monday .. 6 Sunday
    day_of_year: float  # 0 = 1 January, UTC

    @property
    def weekend(self) -> bool:
        return self.weekday in WEEKEND

    @property
    def winter(self) -> float:
        """1 in mid-January, 0 in mid-July: heating, darker days, more wind."""
        return (1.0 + math.cos(2.0 * math.pi * (self.day_of_year - 15.0) / YEAR_DAYS)) / 2.0


@lru_cache(maxsize=4096)
def _utc_offset_s(hour_key: int) -> float:
    # The offset only changes on the hour, so one zoneinfo lookup per hour serves every signal.
    offset = datetime.fromtimestamp(hour_key * 3600.0, UTC).astimezone(TIMEZONE).utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def moment(t: float) -> Moment:
    """The local clock readings in Aarhus at epoch second ``t``."""
    local = t + _utc_offset_s(math.floor(t / 3600.0))
    days = math.floor(local / DAY_S)
    hour = (local - days * DAY_S) / 3600.0
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
    start_of_year = datetime(datetime.fromtimestamp(t, UTC).year, 1, 1, tzinfo=UTC).timestamp()
    return Moment(t=t, hour=hour, weekday=weekday, day_of_year=(t - start_of_year) / DAY_S)


def local_timestamp(t: float, hour: float) -> float:
    """Epoch seconds of ``hour`` o'clock, local time, on the local day containing ``t``."""
    local = t + _utc_offset_s(math.floor(t / 3600.0))
    midnight_local = math.floor(local / DAY_S) * DAY_S
    # the offset of t's own day: off by an hour only on the two days a year the clocks change
    return midnight_local + hour * 3600.0 - _utc_offset_s(math.floor(t / 3600.0))


def sun_elevation(t: float, lat: float, lon: float) -> float:
    """The sun's elevation in degrees (NOAA's low-precision formulas; a fraction of a degree off)."""
    days = t / DAY_S - 10_957.5  # days since J2000.0
    mean_longitude = math.radians((280.460 + 0.9856474 * days) % 360.0)
    anomaly = math.radians((357.528 + 0.9856003 * days) % 360.0)
    ecliptic = mean_longitude + math.radians(1.915 * math.sin(anomaly) + 0.020 * math.sin(2 * anomaly))
    obliquity = math.radians(23.439 - 0.0000004 * days)
    declination = math.asin(math.sin(obliquity) * math.sin(ecliptic))
    right_ascension = math.atan2(math.cos(obliquity) * math.sin(ecliptic), math.cos(ecliptic))
    sidereal = math.radians((280.46061837 + 360.98564736629 * days) % 360.0)
    hour_angle = sidereal + math.radians(lon) - right_ascension
    latitude = math.radians(lat)
    sine = math.sin(latitude) * math.sin(declination) + math.cos(latitude) * math.cos(declination) * math.cos(
        hour_angle
    )
    return math.degrees(math.asin(max(-1.0, min(1.0, sine))))
