"""The local stack's Grafana tree follows the registry without a restart."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.stack.grafana import ProvisioningTree


def add(registry: Path, device_id: str) -> None:
    with RegistryFile(registry).edit() as entries:
        location = {"lat": 56.15, "lon": 10.21}
        entries.add(
            make_spec({"id": device_id, "model": "native", "kind": "climate", "site": "dokk1", "location": location})
        )


async def test_the_tree_is_rewritten_when_the_registry_changes(tmp_path: Path) -> None:
    registry, tree_dir = tmp_path / "registry.yaml", tmp_path / "grafana"
    add(registry, "kit-1")
    settings = IngestSettings(registry_file=registry, influx_url="http://127.0.0.1:9")
    tree = ProvisioningTree(settings, tree_dir)
    assert "dashboards" in tree.export()
    overview = tree_dir / "dashboards" / "iot-suitcase" / "suitcase-overview.json"
    assert "kit-1" in overview.read_text()
    assert "kit-2" not in overview.read_text()
    datasource = "".join(f.read_text() for f in (tree_dir / "datasources").glob("*.yaml"))
    assert "http://127.0.0.1:9" in datasource, "Grafana reads the InfluxDB the ingest service writes"
    refreshing = asyncio.create_task(tree.run(period_s=0.05))
    try:
        add(registry, "kit-2")
        for _ in range(100):
            await asyncio.sleep(0.05)
            if "kit-2" in overview.read_text():
                break
        assert "kit-2" in overview.read_text(), "a registered device appears without a restart"
    finally:
        refreshing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refreshing
