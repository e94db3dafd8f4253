"""What a tenant is: a municipality on a shared installation, with everything of its own under one folder.

A tenant's devices publish under their own topic root, ``<root>@<tenant>`` (``suitcase@aarhus/kit-1/up``), and log
in to the broker as ``<device>@<tenant>``: no device id contains ``@``, so no account of the installation's own
(default) tenant and no account of another tenant can name a tenant's topics, and the same device id may exist
in two tenants. Everything else a tenant has (registry, credentials, the ingest service's log and stores, console
accounts, InfluxDB database and users) is its own, in ``<var>/tenants/<name>/`` and ``suitcase_<name>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from iot_suitcase.devices.credentials.mosquitto import TENANT_SEPARATOR
from iot_suitcase.devices.reading import RESERVED_PREFIX
from iot_suitcase.devices.settings import TENANT_NAME as TENANT_NAME_PATTERN
from iot_suitcase.devices.settings import tenant_folder

TENANT_NAME = re.compile(TENANT_NAME_PATTERN)
ACCOUNTS_FILE = "accounts.sqlite3"  # its console accounts, in its folder
REGISTRY_FILE = "registry.yaml"


def tenant_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a tenant, or None."""
    if not TENANT_NAME.match(name):
        return f"tenant name {name[:40]!r} is not valid: 2-31 of a-z 0-9 -, starting with a letter"
    if name.startswith(RESERVED_PREFIX.rstrip("-")) or name == "default":
        return f"tenant name {name!r} is reserved for the platform's own"
    return None


@dataclass(frozen=True, slots=True)
class Tenant:
    """One tenant as the tenants file lists it."""

    name: str
    title: str
    http_port: int  # its ingest service's console and HTTP ingestion

    def folder(self, tenants_file: Path) -> Path:
        """Where everything of the tenant's lives: beside the tenants file, in tenants/<name>/."""
        return tenant_folder(self.name, tenants_file)

    def topic_root(self, root: str) -> str:
        return f"{root}{TENANT_SEPARATOR}{self.name}"

    @property
    def database(self) -> str:
        return f"suitcase_{self.name.replace('-', '_')}"

    @property
    def ingest_user(self) -> str:
        return f"{RESERVED_PREFIX}ingest-{self.name}"
