"""A quantity added to the catalog and nothing else flows through: a simulated fleet measures it, a kind
dashboard draws it in its unit, and the status page shows it by name at its decimals (#14 part 2)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from iot_suitcase.dashboards.provisioning import build_bundle
from iot_suitcase.dashboards.settings import DashboardSettings
from iot_suitcase.devices.catalog import catalog as catalog_module
from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.registry import Registry, RegistryFile, make_spec
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.service import IngestService
from iot_suitcase.servers import InfluxDB, Mosquitto
from iot_suitcase.simulators.fleet import FleetSpec, build_fleet
from iot_suitcase.simulators.signals import sample
from tests.console import console
from tests.helpers import publish_all

# Only a catalog entry: no signal model, no dashboard table line, no simulator table, no status page code.
SOIL = """
[quantities.soil_moisture]
unit = "%"
dimension = "percent"
min = 0.0
max = 100.0
decimals = 1
description = "Volumetric soil moisture"
description_da = "Jordfugtighed"
short = "Soil moisture"
short_da = "Jordfugtighed"
typical = 30.0
typical_range = [10.0, 45.0]

[kinds.soil]
title = "Soil"
quantities = ["soil_moisture", "temperature", "battery"]
"""


@pytest.fixture
def soil_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    shipped = catalog_module.catalog_text()
    monkeypatch.setattr(catalog_module, "catalog_text", lambda: shipped + SOIL)
    load_catalog.cache_clear()
    yield
    load_catalog.cache_clear()


@pytest.mark.usefixtures("soil_catalog")
def test_a_simulated_fleet_measures_a_quantity_only_the_catalog_knows() -> None:
    spec = FleetSpec(
        sites=("aarhus-c",), devices_per_site=4, seed=7, kinds=("soil",), models=("native",), formats=("native",)
    )
    devices = build_fleet(spec)
    assert devices, "the new kind makes devices"
    assert all("soil_moisture" in device.quantities for device in devices)
    values = [
        sample(d.context, d.quantities, 1_790_000_000 + 3600 * h, 300)["soil_moisture"]
        for d in devices
        for h in range(48)
    ]
    assert all(10.0 <= value <= 45.0 for value in values), "inside its typical range"
    assert len(set(values)) > 10, "a signal, not a constant"


@pytest.mark.usefixtures("soil_catalog")
def test_a_kind_dashboard_draws_a_quantity_only_the_catalog_knows() -> None:
    registry = Registry()
    registry.add(make_spec({"id": "field-1", "model": "native", "site": "park", "kind": "soil"}))
    bundle = build_bundle(registry, DashboardSettings())
    soil = bundle.dashboard("suitcase-kind-soil")
    panel = next(p for p in soil["panels"] if p["title"].startswith("Volumetric soil moisture"))
    assert panel["fieldConfig"]["defaults"]["unit"] == "percent"
    assert panel["fieldConfig"]["defaults"]["decimals"] == 1
    assert '"soil_moisture"' in panel["targets"][0]["query"]
    assert "mean(" in panel["targets"][0]["query"], "its catalog entry says how readings combine"
    overview = bundle.dashboard("suitcase-overview")
    (stats,) = [p for p in overview["panels"] if p["type"] == "stat"]
    assert "soil_moisture" in {t["refId"] for t in stats["targets"]}, "a query of its own in the site rows' tiles"


@pytest.mark.usefixtures("soil_catalog")
async def test_the_status_page_shows_a_quantity_only_the_catalog_knows(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "field-1", "model": "native", "site": "park", "kind": "soil"}))
    settings = IngestSettings(
        mqtt_port=mosquitto.port,
        mqtt_client_id="suitcase-ingest-soil",
        influx_url=influxdb.url,
        influx_database=influx_db,
        data_dir=tmp_path / "data",
        registry_file=tmp_path / "registry.yaml",
        accounts_file=tmp_path / "accounts.sqlite3",
        unknown_devices="reject",
        batch_interval_s=0.05,
        http_port=0,
    )
    service = IngestService(settings)
    running = asyncio.create_task(service.run())
    try:
        while service.http_runner is None or not service.http_runner.addresses or not service.consumer.connected:
            await asyncio.sleep(0.05)
        host, port = service.http_runner.addresses[0][:2]
        body = b'{"readings": {"soil_moisture": 31.25, "temperature": 12.5}}'
        await asyncio.to_thread(publish_all, mosquitto.host, mosquitto.port, [("suitcase/field-1/up", body)])
        while not influxdb.points(influx_db, "soil_moisture"):
            await asyncio.sleep(0.1)
        staff = await asyncio.to_thread(console, f"http://{host}:{port}", tmp_path / "accounts.sqlite3")
        api = json.loads((await asyncio.to_thread(staff.get, "/api/devices")).body)
        [field] = api["devices"]
        assert field["latest"]["soil_moisture"]["value"] == 31.25
        page = (await asyncio.to_thread(staff.get, "/")).text
        row = page.split('id="device-field-1"', 1)[1].split("</tr>", 1)[0]
        assert '<span title="Volumetric soil moisture"><span class="hint">Soil moisture</span> 31.2 %</span>' in row
    finally:
        service.stop()
        await asyncio.wait_for(running, 30)
    assert [p["value"] for p in influxdb.points(influx_db, "soil_moisture")] == [31.25]
