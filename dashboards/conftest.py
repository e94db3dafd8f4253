"""A small city for the dashboard tests: three sites, every kind but device health, ids that need escaping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from iot_suitcase.dashboards.provisioning import Bundle, build_bundle
from iot_suitcase.dashboards.settings import DashboardSettings
from iot_suitcase.dashboards.testing_grafana import FakeGrafana
from iot_suitcase.devices.registry import Registry, make_spec

BEARER = "fake-grafana-bearer"  # what the fake Grafana accepts; not a credential anywhere

DEVICES: list[dict[str, Any]] = [
    # A dot and a colon in ids: the regex escaping must hold against real InfluxDB.
    {"id": "harbour-air.1", "model": "native", "site": "harbour", "kind": "air_quality", "interval_s": 300,
     "location": {"lat": 56.1534, "lon": 10.214}, "name": "Harbour air, quay 2"},
    {"id": "harbour-noise-1", "model": "milesight-iot/ws302", "site": "harbour",
     "location": {"lat": 56.154, "lon": 10.215}},
    {"id": "dokk1-climate-1", "model": "elsys/ers", "site": "dokk1", "location": {"lat": 56.1534, "lon": 10.2140}},
    {"id": "dokk1-level-1", "model": "dragino/ldds75", "site": "dokk1", "location": {"lat": 56.1540, "lon": 10.2150}},
    {"id": "c-weather-1", "model": "native", "site": "aarhus-c", "kind": "weather", "interval_s": 600,
     "location": {"lat": 56.157, "lon": 10.2079}},
    {"id": "c-counter-1", "model": "native", "site": "aarhus-c", "kind": "counter", "interval_s": 900},
    {"id": "c-energy-1", "model": "native", "site": "aarhus-c", "kind": "energy", "interval_s": 900},
    {"id": "c-light-1", "model": "native", "site": "aarhus-c", "kind": "light", "interval_s": 900},
    {"id": "c-level-2", "model": "native", "site": "aarhus-c", "kind": "level", "interval_s": 900},
    # Reports every 5 minutes but has been quiet for 2 hours: silent.
    {"id": "c-silent-1", "model": "native", "site": "aarhus-c", "kind": "climate", "interval_s": 300,
     "location": {"lat": 56.158, "lon": 10.209}},
]  # fmt: skip
SILENT = "c-silent-1"


def make_registry(devices: list[dict[str, Any]] | None = None) -> Registry:
    registry = Registry()
    for spec in devices if devices is not None else DEVICES:
        registry.add(make_spec(spec))
    # Unknown devices land in quarantine; the dashboards leave them out until someone moves them.
    registry.auto_register("stranger-9")
    return registry


@pytest.fixture
def registry() -> Registry:
    return make_registry()


@pytest.fixture
def bundle(registry: Registry) -> Bundle:
    return build_bundle(registry, DashboardSettings(alert_email="ops@city.example"))


@pytest.fixture
async def grafana() -> AsyncIterator[FakeGrafana]:
    async with FakeGrafana(BEARER) as fake:
        yield fake
