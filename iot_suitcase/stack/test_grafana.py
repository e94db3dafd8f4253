"""The local stack's Grafana tree follows the registry without a restart."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.stack.grafana import ProvisioningTree


def add(registry: Path, device_id: str, kind: str = "climate") -> None:
    with RegistryFile(registry).edit() as entries:
        location = {"lat": 56.15, "lon": 10.21}
        entries.add(
            make_spec({"id": device_id, "model": "native", "kind": kind, "site": "dokk1", "location": location})
        )


async def test_the_tree_is_rewritten_when_the_registry_changes(tmp_path: Path) -> None:
    registry, tree_dir = tmp_path / "registry.yaml", tmp_path / "grafana"
    add(registry, "kit-1")
    settings = IngestSettings(registry_file=registry, influx_url="http://127.0.0.1:9")
    tree = ProvisioningTree(settings, tree_dir)
    assert "dashboards" in tree.export()
    boards = tree_dir / "dashboards" / "iot-suitcase"
    assert (boards / "suitcase-kind-climate.json").exists()
    assert not (boards / "suitcase-kind-noise.json").exists()
    datasource = "".join(f.read_text() for f in (tree_dir / "datasources").glob("*.yaml"))
    assert "http://127.0.0.1:9" in datasource, "Grafana reads the InfluxDB the ingest service writes"
    refreshing = asyncio.create_task(tree.run(period_s=0.05))
    try:
        add(registry, "kit-2", "noise")  # a device of a new kind: its dashboard (devices themselves are data)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if (boards / "suitcase-kind-noise.json").exists():
                break
        assert (boards / "suitcase-kind-noise.json").exists(), "a new kind's dashboard appears without a restart"
    finally:
        refreshing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refreshing
