"""The local stack's Grafana provisioning tree: exported at start and again whenever the registry changes.

Grafana itself is not part of the local stack (Debian does not package it); the tree is what a Grafana
started with ``GF_PATHS_PROVISIONING`` pointing at it, or the compose stack, provisions from. Its
datasource reads the same InfluxDB the ingest service writes.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from iot_suitcase.dashboards.provisioning import build_bundle, export_tree
from iot_suitcase.dashboards.settings import DashboardSettings
from iot_suitcase.devices.registry import RegistryError, RegistryFile
from iot_suitcase.ingest.config import IngestSettings

log = logging.getLogger(__name__)


def dashboard_settings(settings: IngestSettings, directory: Path) -> DashboardSettings:
    """Grafana reads what the ingest service writes, with the same credentials; the tree stays where it is."""
    return DashboardSettings(
        influx_flavour=settings.influx_flavour.value,
        influx_url=settings.influx_url,
        influx_database=settings.influx_database,
        influx_retention_policy=settings.influx_retention_policy,
        influx_username=settings.influx_username,
        influx_password=settings.influx_password,
        influx_bucket=settings.influx_bucket,
        influx_token=settings.influx_token,
        grafana_provisioning_dir=str(directory.resolve()),
    )


class ProvisioningTree:
    """Exports the tree for the registry as it is now; ``run`` keeps it in step with the registry."""

    def __init__(self, settings: IngestSettings, directory: Path) -> None:
        self.registry = RegistryFile(settings.registry_file)
        self.settings = dashboard_settings(settings, directory)
        self.directory = directory
        self._seen: float | None = None

    def export(self) -> str:
        """Write the tree; returns a line for the banner."""
        self._seen = self._registry_mtime()
        bundle = build_bundle(self.registry.load(), self.settings)
        export_tree(bundle, self.directory)
        rules = sum(len(group.rules or []) for group in bundle.alerts.groups)
        return f"{len(bundle.dashboards)} dashboards, {rules} alert rules"

    async def run(self, period_s: float = 5.0) -> None:
        while True:
            await asyncio.sleep(period_s)
            if self._registry_mtime() == self._seen:
                continue
            try:
                summary = await asyncio.to_thread(self.export)
            except (RegistryError, OSError) as error:  # a registry being edited by hand: keep the last tree
                log.warning("grafana provisioning not refreshed error=%s", error)
            else:
                log.info("grafana provisioning refreshed dir=%s %s", self.directory, summary)

    def _registry_mtime(self) -> float | None:
        try:
            return self.registry.path.stat().st_mtime
        except FileNotFoundError:
            return None
