"""Writing a simulated fleet into the device registry (and issuing API keys), so the ingest service knows it.

Registering is idempotent: a device already registered with the same model and DevEUI is left as it is,
so the same command can run again; one registered differently is a conflict, reported with the others.
The fleet's unregistered twins (unknown_device faults) must stay unknown: if one is registered, say so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from iot_suitcase.devices.credentials.issuing import commit, open_store
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.registry import DeviceSpec, Problem, RegistryError, RegistryFile, make_spec
from iot_suitcase.simulators.model import SimDevice

SIMULATED_TAG = {"simulated": "true"}


@dataclass(frozen=True, slots=True)
class Registered:
    added: int
    already: int
    ghosts_registered: tuple[str, ...]  # twins that someone registered: their faults will not be rejected


def spec_of(device: SimDevice) -> DeviceSpec:
    """The registry entry of a simulated device."""
    data: dict[str, object] = {
        "id": device.id,
        "model": device.model,
        "kind": device.kind,
        "site": device.site,
        "name": device.name,
        "location": {"lat": device.lat, "lon": device.lon},
        "interval_s": max(1, round(device.interval_s)),
        "tags": SIMULATED_TAG,
    }
    if device.dev_eui is not None:
        data["dev_eui"] = device.dev_eui
    return make_spec(data)


def register_fleet(path: Path, devices: Sequence[SimDevice], ghosts: Sequence[SimDevice] = ()) -> Registered:
    """Add every device not yet registered; all or nothing, with every conflict named."""
    with RegistryFile(path).edit() as registry:
        new: list[DeviceSpec] = []
        problems: list[Problem] = []
        for device in devices:
            existing = registry.get(device.id)
            if existing is None:
                new.append(spec_of(device))
            elif existing.model != device.model or existing.dev_eui != device.dev_eui:
                problems.append(
                    Problem(
                        f"already registered as {existing.model} (DevEUI {existing.dev_eui or '-'}), the simulator "
                        f"has {device.model} (DevEUI {device.dev_eui or '-'}): use another --id-prefix or --seed",
                        device=device.id,
                    )
                )
        if problems:
            raise RegistryError(problems)
        registry.add_all(new)
        ghosts_registered = tuple(ghost.id for ghost in ghosts if ghost.id in registry)
    return Registered(len(new), len(devices) - len(new), ghosts_registered)


def issue_api_keys(device_ids: Sequence[str], keys_file: Path | None) -> dict[str, str]:
    """New credentials for each device (as `suitcase devices credentials` issues them), in one store write.

    Returns device id -> API key; with ``keys_file``, also writes them there as JSON lines (mode 0600) in the
    shape `suitcase devices credentials --json` prints, so a later run can reuse them with --api-keys.
    """
    settings = SecuritySettings()
    if settings.mqtt_password is None:
        raise RegistryError(Problem("the ingest service's MQTT password is not set: run `suitcase init` first"))
    store = open_store(settings)
    issued = [store.issue(device_id) for device_id in device_ids]
    commit(store, settings)
    if keys_file is not None:
        lines = [
            json.dumps(
                {
                    "device_id": one.device_id,
                    "mqtt_username": one.mqtt_username,
                    "mqtt_password": one.mqtt_password,
                    "api_key": one.api_key,
                }
            )
            for one in issued
        ]
        descriptor = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    return {one.device_id: one.api_key for one in issued}
