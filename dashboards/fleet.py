"""What the dashboards are generated from: the registry's devices seen through the catalog.

Everything that varies between installations and shapes what is generated (kinds, quantities, reporting
intervals, models) is read here, so the generators stay pure functions of a ``Fleet`` and a second run on the same
registry produces byte-identical output (which is what makes a second ``push`` a no-op).
"""

from __future__ import annotations

from dataclasses import dataclass

from iot_suitcase.devices.catalog import Catalog
from iot_suitcase.devices.registry import QUARANTINE_SITE, Device, Registry

# Device health quantities have their own dashboard; a "device_health" kind dashboard would repeat it.
HEALTH_KIND = "device_health"


@dataclass(frozen=True)
class Fleet:
    """The registered devices that dashboards and alerts cover, with the catalog to interpret them.

    Devices in the ``quarantine`` site were registered automatically because nobody knew them; they are
    left out until an operator moves them to a real site (their interval is a guess, their kind unknown).
    """

    catalog: Catalog
    devices: tuple[Device, ...]

    @classmethod
    def from_registry(cls, registry: Registry, catalog: Catalog) -> Fleet:
        return cls(catalog, tuple(d for d in registry.devices if d.site != QUARANTINE_SITE))

    @property
    def kinds(self) -> tuple[str, ...]:
        """Kinds that registered devices have, in catalog order (the order of the kind dashboards)."""
        present = {device.kind for device in self.devices}
        return tuple(kind for kind in self.catalog.kinds if kind in present)

    @property
    def dashboard_kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in self.kinds if kind != HEALTH_KIND)

    def kind_quantities(self, kind: str) -> tuple[str, ...]:
        return self.catalog.kinds[kind].quantities

    @property
    def shown_quantities(self) -> tuple[str, ...]:
        """Quantities of the kinds with a dashboard (device health ones have their own), in catalog order."""
        wanted = {q for kind in self.dashboard_kinds for q in self.catalog.kinds[kind].quantities}
        return tuple(q for q in self.catalog.quantities if q in wanted)

    @property
    def quantities(self) -> tuple[str, ...]:
        """Every quantity some registered device's kind reports, in catalog order."""
        wanted = {q for kind in self.kinds for q in self.catalog.kinds[kind].quantities}
        return tuple(q for q in self.catalog.quantities if q in wanted)

    @property
    def intervals(self) -> tuple[int, ...]:
        """The distinct expected reporting intervals (seconds): one silence window each."""
        return tuple(sorted({device.interval_s for device in self.devices}))

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted({device.model for device in self.devices}))
