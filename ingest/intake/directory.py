"""What the ingest service knows about devices: their InfluxDB tags, their models, the policy for strangers.

Built from the registry file and refreshed when it changes, without a restart. Unknown devices are
rejected ("unknown_device", so staff see a new sensor knocking), registered into the quarantine site,
or (for development) accepted untagged, as configured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from enum import StrEnum

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.errors import RejectCode
from iot_suitcase.devices.reading import Reading
from iot_suitcase.devices.registry import QUARANTINE_SITE, Registry, RegistryError, RegistryFile
from iot_suitcase.ingest.sink.points import DEVICE_TAG, UNKNOWN, tag_set, uplink_tags

log = logging.getLogger(__name__)

_RESERVED_TAGS = {DEVICE_TAG, "site", "kind", "model", "format", "reason", "worker", "interval_s"}
_RELOAD_INTERVAL_S = 2.0


class UnknownDevices(StrEnum):
    REJECT = "reject"
    REGISTER = "register"
    ACCEPT = "accept"


class DeviceDirectory:
    """Tags per device (cached), the admission rule, and registry reloads."""

    def __init__(
        self,
        file: RegistryFile | None,
        policy: UnknownDevices,
        *,
        quarantine_limit: int = 1000,
        on_change: Callable[[Registry], None] | None = None,
    ) -> None:
        self._file = file
        self._on_change = on_change  # told of the registry at start and after every reload
        self._policy = policy
        self._quarantine_limit = quarantine_limit
        self._registry = Registry()
        self._quarantined: set[str] = set()
        self._tags: dict[str, str] = {}
        self._uplink_tags: dict[str, str] = {}
        self._learned: dict[str, str] = {}  # device -> the kind its readings showed, until the registry has it

    def load(self) -> Registry:
        """Load the registry at start-up; a broken file raises ``RegistryError`` (refuse to start)."""
        if self._file is not None:
            self._apply(self._file.load())
        return self._registry

    def _apply(self, registry: Registry) -> None:
        self._registry = registry
        self._quarantined -= {device.id for device in registry.devices}
        self._tags.clear()
        self._uplink_tags.clear()
        if self._on_change is not None:
            self._on_change(registry)

    @property
    def registry(self) -> Registry:
        return self._registry

    def known(self, device_id: str) -> bool:
        """Registered (or quarantined by the register policy): kept whole on the status board."""
        return device_id in self._registry or device_id in self._quarantined

    def admit(self, device_id: str) -> tuple[RejectCode, str] | None:
        """None if readings of ``device_id`` may be stored, else the reject code and reason."""
        if device_id in self._registry or device_id in self._quarantined or self._policy is UnknownDevices.ACCEPT:
            return None
        if self._policy is UnknownDevices.REGISTER:
            if len(self._quarantined) < self._quarantine_limit:
                self._quarantined.add(device_id)
                self._tags.pop(device_id, None)
                self._uplink_tags.pop(device_id, None)
                asyncio.get_running_loop().run_in_executor(None, self._register, device_id)
                return None
            return RejectCode.UNKNOWN_DEVICE, (
                f"device {device_id!r} is not in the registry and the quarantine is full "
                f"({self._quarantine_limit} devices): review `suitcase devices list --site {QUARANTINE_SITE}`"
            )
        return RejectCode.UNKNOWN_DEVICE, (
            f"device {device_id!r} is not in the registry: add it with "
            f"`suitcase devices add {device_id} --model <vendor/model or native> --site <site>`"
        )

    def admit_relayed(self, gateway: str, device_id: str) -> tuple[RejectCode, str] | None:
        """None if ``gateway`` may publish readings of ``device_id`` (the registry names it as the device's
        gateway), else the reject code and reason. No policy admits a relayed stranger: a gateway's account
        must not be able to speak for any device it likes."""
        device = self._registry.get(device_id)
        if device is not None and device.gateway == gateway:
            return None
        now = "not registered" if device is None else f"registered with gateway {device.gateway or 'none'}"
        return RejectCode.DEVICE_MISMATCH, (
            f"{gateway!r} published readings of {device_id!r}, which is {now}: a gateway publishes only for "
            f"devices registered with it (`suitcase devices add {device_id} ... --gateway {gateway}`)"
        )

    def learn_kind(self, device_id: str, readings: Sequence[Reading]) -> None:
        """A registered device without a kind (a native sensor added without --kind) gets the kind its readings
        show, in its points' tags at once and in the registry, so that it has a place on the dashboards."""
        device = self._registry.get(device_id)
        if device is None or device.kind is not None or device_id in self._learned:
            return
        kind = load_catalog().kind_for(reading.quantity for reading in readings)
        if kind is None:
            return
        self._learned[device_id] = kind
        self._tags.pop(device_id, None)
        asyncio.get_running_loop().run_in_executor(None, self._save_kind, device_id, kind)

    def _save_kind(self, device_id: str, kind: str) -> None:
        if self._file is None:
            return
        try:
            with self._file.edit() as registry:
                found = registry.get(device_id)
                if found is not None and found.kind is None:
                    registry.update(device_id, kind=kind)
            log.info("kind taken from the first readings device=%s kind=%s", device_id, kind)
        except (RegistryError, OSError) as error:
            log.error("could not save the kind of device=%s error=%s", device_id, error)

    def _register(self, device_id: str) -> None:
        if self._file is None:
            return
        try:
            with self._file.edit() as registry:
                registry.auto_register(device_id)
            log.warning("registered an unknown device into quarantine device=%s site=%s", device_id, QUARANTINE_SITE)
        except (RegistryError, OSError) as error:
            log.error("could not register device=%s error=%s", device_id, error)

    def tags(self, device_id: str) -> str:
        """The tag set of a device's points (``device=...,kind=...,model=...,site=...``), escaped, cached."""
        cached = self._tags.get(device_id)
        if cached is None:
            cached = self._tags[device_id] = self._build_tags(device_id)
        return cached

    def uplink_tags(self, device_id: str) -> str:
        """The site and expected interval tags of a device's uplink points, escaped, cached."""
        cached = self._uplink_tags.get(device_id)
        if cached is None:
            device = self._registry.get(device_id)
            interval = None if device is None else device.interval_s
            cached = self._uplink_tags[device_id] = uplink_tags(self.site(device_id), interval)
        return cached

    def site(self, device_id: str | None) -> str:
        if device_id is None:
            return UNKNOWN
        device = self._registry.get(device_id)
        if device is not None:
            return device.site
        return QUARANTINE_SITE if device_id in self._quarantined else UNKNOWN

    def _build_tags(self, device_id: str) -> str:
        device = self._registry.get(device_id)
        tags = {DEVICE_TAG: device_id, "site": self.site(device_id), "kind": UNKNOWN, "model": UNKNOWN}
        if device is not None:
            tags["kind"] = device.kind or self._learned.get(device_id, UNKNOWN)
            tags["model"] = device.model
            for key, value in device.tags.items():  # one value per device: no extra series cardinality
                if key not in _RESERVED_TAGS:
                    tags[key] = value
        return tag_set(
            tags, lambda key, error: log.warning("tag left out device=%s tag=%s error=%s", device_id, key, error)
        )

    def refresh(self, decoder: Decoder) -> bool:
        """Reload now if the registry file changed (one stat when it did not): a device registered a moment
        ago is known from its first message, not from the next poll. True if it reloaded."""
        if self._file is None:
            return False
        try:
            registry = self._file.reload_if_changed()
        except RegistryError as error:
            log.error("registry not reloaded, keeping the previous one error=%s", error)
            return False
        if registry is None:
            return False
        self._reloaded(registry, decoder)
        return True

    def _reloaded(self, registry: Registry, decoder: Decoder) -> None:
        self._apply(registry)
        decoder.add_device_models(registry.device_models())
        log.info("registry reloaded devices=%d sites=%d", len(registry), len(registry.sites))

    async def run_reloader(self, decoder: Decoder) -> None:
        """Pick up registry changes without a restart; a bad edit is logged and the old registry kept."""
        loop = asyncio.get_running_loop()
        while self._file is not None:
            await asyncio.sleep(_RELOAD_INTERVAL_S)
            try:
                registry = await loop.run_in_executor(None, self._file.reload_if_changed)
            except RegistryError as error:
                log.error("registry not reloaded, keeping the previous one error=%s", error)
                continue
            if registry is not None:
                self._reloaded(registry, decoder)
