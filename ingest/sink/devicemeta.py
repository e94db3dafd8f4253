"""The registry's devices as points of ``suitcase_devices``, so Grafana reads device metadata from InfluxDB.

Dashboards and alert rules then never list devices: the map reads each device's name, site, kind, model,
location and reporting interval from here, and a device registered a minute ago shows up without a new
export. One point per device (tag ``device``; fields ``name``, ``site``, ``kind``, ``model``, ``interval_s``,
``lat``, ``lon``, ``located``, ``registered``) is written at start, whenever the registry changes, and every
few hours (so a retention policy never ages a device out). A device that left the registry, or went to the
quarantine site, gets a point with ``registered`` 0; which devices were published is kept in a small file,
so a device removed while the service was down is withdrawn at the next start.

Readers take each field's ``last`` within ``PUBLISHED_LOOKBACK`` and keep the devices whose ``registered`` is 1.
The service itself may only write (least privilege), so it never reads this back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

from iot_suitcase.devices.registry import QUARANTINE_SITE, Device, Registry
from iot_suitcase.ingest.sink.influx import InfluxWriter, WriteError
from iot_suitcase.ingest.sink.lineprotocol import format_float, string_field
from iot_suitcase.ingest.sink.points import DEVICE_TAG, DEVICES, UNKNOWN

log = logging.getLogger(__name__)

REPUBLISH_S = 6 * 3600.0
RETRY_S = 5.0
_CHUNK = 5000  # points per write request


def published_devices(registry: Registry) -> list[Device]:
    """The devices that dashboards show: every registered one but those in quarantine (nobody placed them)."""
    return [device for device in registry.devices if device.site != QUARANTINE_SITE]


def device_line(device: Device, stamp: int) -> str:
    """One device's metadata point. Every field is written each time, so each field's ``last`` agrees."""
    location = device.location
    numbers = {
        "interval_s": float(device.interval_s),
        "lat": 0.0 if location is None else location.lat,
        "lon": 0.0 if location is None else location.lon,
        "located": 0.0 if location is None else 1.0,
        "registered": 1.0,
    }
    texts = {"kind": device.kind or UNKNOWN, "model": device.model, "name": device.name, "site": device.site}
    fields = [f"{key}={string_field(value)}" for key, value in texts.items()]
    fields += [f"{key}={format_float(value)}" for key, value in numbers.items()]
    return f"{DEVICES},{DEVICE_TAG}={device.id} {','.join(fields)} {stamp}"


def withdrawn_line(device_id: str, stamp: int) -> str:
    """A device that left the dashboards: ``registered`` 0."""
    return f"{DEVICES},{DEVICE_TAG}={device_id} registered=0 {stamp}"


class RegistryPublisher:
    """Writes the registry's devices to InfluxDB after every change, retrying until InfluxDB takes them."""

    def __init__(
        self, writer: InfluxWriter, state_file: Path, *, republish_s: float = REPUBLISH_S, retry_s: float = RETRY_S
    ) -> None:
        self._writer = writer
        self._state_file = state_file
        self._republish_s = republish_s
        self._retry_s = retry_s
        self._registry: Registry | None = None
        self._changed = asyncio.Event()
        self._published: list[Device] | None = None  # what InfluxDB took last
        self.published_at: float | None = None  # when InfluxDB last took them all (time.time())

    def changed(self, registry: Registry) -> None:
        """The registry as it is now; published by ``run`` as soon as it can."""
        self._registry = registry
        self._changed.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._changed.wait(), self._republish_s)
                due = False
            except TimeoutError:
                due = True
            self._changed.clear()
            registry = self._registry
            if registry is None or (not due and published_devices(registry) == self._published):
                continue  # a change that changes nothing shown (a device put into quarantine)
            await self._publish_until_taken(registry)

    async def _publish_until_taken(self, registry: Registry) -> None:
        failures = 0
        while True:
            try:
                count, withdrawn = await self._publish(registry)
            except WriteError as error:
                failures += 1
                if failures == 1:
                    log.warning("device metadata not written yet, retrying error=%s", error)
                await asyncio.sleep(self._retry_s)
                if self._changed.is_set() and self._registry is not None:  # a newer registry replaces this one
                    self._changed.clear()
                    registry = self._registry
                continue
            self.published_at = time.time()
            log.info("device metadata written devices=%d withdrawn=%d", count, withdrawn)
            return

    async def _publish(self, registry: Registry) -> tuple[int, int]:
        devices = published_devices(registry)
        current = {device.id for device in devices}
        gone = sorted(self._load_state() - current)
        stamp = time.time_ns()
        lines = [device_line(device, stamp) for device in devices]
        lines += [withdrawn_line(device_id, stamp) for device_id in gone]
        for start in range(0, len(lines), _CHUNK):
            await self._writer.write("\n".join(lines[start : start + _CHUNK]))
        self._save_state(current)
        self._published = devices
        return len(devices), len(gone)

    def _load_state(self) -> set[str]:
        try:
            return set(json.loads(self._state_file.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError, TypeError) as error:
            log.warning("published devices file unreadable, starting afresh file=%s error=%s", self._state_file, error)
            return set()

    def _save_state(self, ids: set[str]) -> None:
        partial = self._state_file.with_suffix(".partial")
        try:
            partial.write_text(json.dumps(sorted(ids)), encoding="utf-8")
            os.replace(partial, self._state_file)
        except OSError as error:  # the points are in InfluxDB; only a later withdrawal may be missed
            log.warning("published devices file not saved file=%s error=%s", self._state_file, error)
