"""The add-device form's map (#15 point 5): which tiles it draws, and where it opens.

The map itself is ``static/map.js``; a click there fills in the form's latitude and longitude fields, which
stay the way to type a location.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iot_suitcase.devices.registry import Registry


@dataclass(frozen=True, slots=True)
class MapTiles:
    """The tile server the add-device form's map draws from, and the attribution its licence asks for."""

    url: str
    attribution: str


_WORLD = (45.0, 10.0, 2)  # where the map opens when nothing is located yet: lat, lon, zoom
_SITE_ZOOM, _DEVICE_ZOOM = 13, 17


def map_view(values: Mapping[str, str], registry: Registry) -> dict[str, Any]:
    """Where the form's map opens: at the device's location, else amid the located devices, else on the
    world; and each site's centre, which the map moves to when a site is chosen."""
    located: dict[str, list[tuple[float, float]]] = {}
    for device in registry.devices:
        if device.location is not None:
            located.setdefault(device.site, []).append((device.location.lat, device.location.lon))
    sites = {site: _middle(points) for site, points in located.items()}
    try:
        lat, lon, zoom = float(values.get("lat", "")), float(values.get("lon", "")), _DEVICE_ZOOM
    except ValueError:
        everywhere = [point for points in located.values() for point in points]
        lat, lon, zoom = (*_middle(everywhere), _SITE_ZOOM) if everywhere else _WORLD
    if not (math.isfinite(lat) and math.isfinite(lon)):
        lat, lon, zoom = _WORLD
    return {"lat": lat, "lon": lon, "zoom": zoom, "sites": sites}


def _middle(points: list[tuple[float, float]]) -> tuple[float, float]:
    return (round(sum(p[0] for p in points) / len(points), 6), round(sum(p[1] for p in points) / len(points), 6))
