"""The tenants file (``var/tenants.toml``): which tenants an installation has, written atomically."""

from __future__ import annotations

import tomllib
from pathlib import Path

from iot_suitcase.devices.credentials.mosquitto import write_atomically
from iot_suitcase.devices.tenants.model import Tenant, tenant_name_problem

FIRST_TENANT_PORT = 8081  # the installation's own console is on 8080


class TenantsError(ValueError):
    """A tenants file or a change to it that cannot be used, saying why."""


def load_tenants(path: Path) -> dict[str, Tenant]:
    """Name -> tenant; none when the file does not exist (a single-tenant installation)."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TenantsError(f"{path}: {error}") from None
    tenants = {}
    for name, entry in dict(data.get("tenants", {})).items():
        problem = tenant_name_problem(name)
        if problem is not None:
            raise TenantsError(f"{path}: {problem}")
        tenants[name] = Tenant(name, str(entry.get("title", name)), int(entry["http_port"]))
    return tenants


def save_tenants(path: Path, tenants: dict[str, Tenant]) -> None:
    lines = ["# The tenants of this installation (`suitcase tenants`); each has its folder in tenants/<name>/.", ""]
    for tenant in sorted(tenants.values(), key=lambda t: t.name):
        title = tenant.title.replace("\\", "\\\\").replace('"', '\\"')
        lines += [f"[tenants.{tenant.name}]", f'title = "{title}"', f"http_port = {tenant.http_port}", ""]
    write_atomically(path, "\n".join(lines), mode=0o644)


def new_tenant(tenants: dict[str, Tenant], name: str, title: str) -> Tenant:
    """The tenant to add: a valid, unused name and the next free console port."""
    problem = tenant_name_problem(name)
    if problem is not None:
        raise TenantsError(problem)
    if name in tenants:
        raise TenantsError(f"tenant {name!r} exists already")
    taken = {tenant.http_port for tenant in tenants.values()}
    port = next(port for port in range(FIRST_TENANT_PORT, 65536) if port not in taken)
    return Tenant(name, title or name, port)
