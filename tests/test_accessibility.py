"""The console's pages pass axe-core (the accessibility engine behind Lighthouse and many audits) in Chromium
with no serious or critical violation (#15 acceptance): login, fleet, a device, onboarding, accounts,
network servers, municipalities, in both languages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.ingest.console.accounts import Accounts, Role
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.browser import browser_page, log_in
from tests.helpers import IngestProcess, publish_all, unique, wait_until

AXE = Path(__file__).resolve().parent.parent / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def service(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str) -> Iterator[IngestProcess]:
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "kit-1", "model": "native", "kind": "climate", "site": "dokk1"}))
        registry.add(make_spec({"id": "kit-2", "model": "native", "site": "raadhuset"}))
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.05",
        "unknown_devices": "reject",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    publish_all(
        mosquitto.host,
        mosquitto.port,
        [
            ("suitcase/kit-1/up", b'{"readings": {"temperature": 21.5, "battery": 9, "rssi": -101}}'),
            ("suitcase/kit-2/up", b'{"readings": {"humidity": 140}}'),
            ("suitcase/stranger/up", b'{"readings": {"co2": 500}}'),
        ],
    )
    wait_until(lambda: bool(influxdb.points(influx_db, "temperature")), 20, "kit-1's reading")
    yield ingest
    ingest.terminate()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    assert AXE.exists(), "axe-core is installed by scripts/setup --test"
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("locale", ["en-GB", "da-DK"])
def test_login_fleet_device_and_accounts_pages_have_no_serious_violation(
    tmp_path: Path, service: IngestProcess, locale: str
) -> None:
    password = Accounts(tmp_path / "accounts.sqlite3").add("ida", Role.ADMIN)
    found: dict[str, list[dict[str, Any]]] = {}
    with browser_page(locale=locale, bypass_csp=True) as page:  # to inject axe itself; the pages run as served
        page.goto(f"{service.http_url}/login")
        found["login"] = serious_violations(page)
        log_in(page, service.http_url, "ida", password)
        for path in (
            "/",
            "/?state=rejecting",
            "/devices/kit-1",
            "/devices/kit-2",
            "/accounts",
            "/add-device",
            "/import",
            "/integrations",
            "/tenants",
            "/open-data",
        ):
            page.goto(f"{service.http_url}{path}")
            found[path] = serious_violations(page)
    assert not any(found.values()), json.dumps(found, indent=1)
