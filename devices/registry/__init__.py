"""The device registry: every sensor of an installation, in one YAML file (see README.md here)."""

from iot_suitcase.devices.registry.model import NATIVE, Device, DeviceSpec, Location, Problem, RegistryError, make_spec
from iot_suitcase.devices.registry.store import (
    QUARANTINE_SITE,
    Registry,
    RegistryFile,
    default_registry_path,
    dump_yaml,
    parse_yaml,
)

__all__ = [
    "NATIVE",
    "QUARANTINE_SITE",
    "Device",
    "DeviceSpec",
    "Location",
    "Problem",
    "Registry",
    "RegistryError",
    "RegistryFile",
    "default_registry_path",
    "dump_yaml",
    "make_spec",
    "parse_yaml",
]
