"""Aarhus: sites (districts) to spread a simulated fleet over, and the LoRaWAN gateways that hear it.

Coordinates are district centres and plausible rooftops, rounded to about 100 m; devices are placed
within a few hundred metres of their site's centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from iot_suitcase.simulators.signals.noise import text_key, unit

EARTH_RADIUS_KM = 6371.0
_SPREAD_DEG_LAT = 0.005  # about 550 m
_SPREAD_DEG_LON = 0.009  # about 560 m at 56 degrees north


@dataclass(frozen=True, slots=True)
class Place:
    name: str
    lat: float
    lon: float


SITES: tuple[Place, ...] = (
    Place("aarhus-c", 56.1529, 10.2039),
    Place("dokk1", 56.1534, 10.2140),
    Place("frederiksbjerg", 56.1468, 10.2008),
    Place("trojborg", 56.1700, 10.2120),
    Place("katrinebjerg", 56.1720, 10.1890),
    Place("aarhus-o", 56.1590, 10.2240),
    Place("risskov", 56.1910, 10.2290),
    Place("viby", 56.1280, 10.1640),
    Place("hojbjerg", 56.1150, 10.2000),
    Place("hasle", 56.1720, 10.1570),
    Place("brabrand", 56.1550, 10.1050),
    Place("gellerup", 56.1560, 10.1350),
    Place("skejby", 56.1950, 10.1750),
    Place("tilst", 56.1880, 10.1090),
    Place("lisbjerg", 56.2210, 10.1600),
    Place("harlev", 56.1440, 10.0000),
)
CITY_CENTRE = SITES[0]

GATEWAYS: tuple[Place, ...] = (
    Place("aa0000fffe010001", 56.1525, 10.2030),  # city hall
    Place("aa0000fffe010002", 56.1681, 10.2030),  # university
    Place("aa0000fffe010003", 56.1535, 10.2145),  # Dokk1
    Place("aa0000fffe010004", 56.1290, 10.1640),  # Viby
    Place("aa0000fffe010005", 56.1900, 10.1720),  # Skejby
    Place("aa0000fffe010006", 56.1530, 10.1100),  # Brabrand
)
HEARING_KM = 8.0  # gateways further away than this do not hear a device
MAX_GATEWAYS = 3  # a city uplink is typically heard by one to a few gateways


def site(name: str, index: int) -> Place:
    """The named site's centre: a known Aarhus district, else one placed around the city centre."""
    for place in SITES:
        if place.name == name:
            return place
    angle = 2.0 * math.pi * unit(text_key(name), 1)
    km = 1.0 + 5.0 * unit(text_key(name), 2) + 0.1 * index
    lat = CITY_CENTRE.lat + km / 111.2 * math.sin(angle)
    lon = CITY_CENTRE.lon + km / (111.2 * math.cos(math.radians(CITY_CENTRE.lat))) * math.cos(angle)
    return Place(name, round(lat, 4), round(lon, 4))


def site_names(count: int) -> list[str]:
    """The first ``count`` district names (then ``site-17``, ``site-18``, ...)."""
    return [SITES[i].name if i < len(SITES) else f"site-{i + 1}" for i in range(count)]


def place_device(centre: Place, *keys: int) -> tuple[float, float]:
    """A location near ``centre`` for the device with these keys (lat, lon rounded to about 1 m)."""
    lat = centre.lat + _SPREAD_DEG_LAT * (2.0 * unit(*keys, 1) - 1.0)
    lon = centre.lon + _SPREAD_DEG_LON * (2.0 * unit(*keys, 2) - 1.0)
    return round(lat, 5), round(lon, 5)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def gateways_in_reach(lat: float, lon: float) -> list[tuple[int, Place, float]]:
    """(gateway number, gateway, km) of the nearest gateways that hear a device here (at least one)."""
    found = sorted(
        ((number, gateway, distance_km(lat, lon, gateway.lat, gateway.lon)) for number, gateway in enumerate(GATEWAYS)),
        key=lambda entry: entry[2],
    )
    return [entry for entry in found if entry[2] <= HEARING_KM][:MAX_GATEWAYS] or found[:1]
