"""The platform administrator's page (#18): the municipalities (tenants) of a shared installation.

It is on the installation's own console only, and for its administrators: they are the platform's. A tenant's
console has no such page, so a tenant's administrator manages its own accounts and devices and nothing of the
platform's. Adding and removing run what `suitcase tenants add|remove` runs (devices/tenants/admin.py); the new
tenant's first console administrator can be made at once, its password shown only then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from iot_suitcase.devices.credentials.issuing import reload_broker
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.tenants.admin import add_tenant, device_count, remove_tenant
from iot_suitcase.devices.tenants.model import ACCOUNTS_FILE
from iot_suitcase.devices.tenants.store import TenantsError, load_tenants
from iot_suitcase.ingest.console.accounts import AccountError, Accounts, Role
from iot_suitcase.ingest.console.auth import PLATFORM_CONSOLE, form_of, needs, session_of
from iot_suitcase.ingest.console.rendering import Templates

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TenantRow:
    name: str
    title: str
    http_port: int
    devices: int | None  # None: its registry cannot be read
    database: str


@dataclass(frozen=True, slots=True)
class Made:
    """A tenant just added, and its first administrator's password, shown this once."""

    name: str
    topic_root: str
    admin: str | None = None
    password: str | None = None


class TenantsPage:
    def __init__(self, templates: Templates, tenants_file: Path, security: Callable[[], SecuritySettings]) -> None:
        self._templates = templates
        self._tenants_file = tenants_file
        self._security = security

    def add_routes(self, app: web.Application) -> None:
        app[PLATFORM_CONSOLE] = self._tenants_file
        app.router.add_get("/tenants", self.listing)
        app.router.add_post("/tenants", self.add)
        app.router.add_post("/tenants/{name}/remove", self.remove)

    def _rows(self) -> list[TenantRow]:
        return [
            TenantRow(t.name, t.title, t.http_port, device_count(t, self._tenants_file), t.database)
            for t in sorted(load_tenants(self._tenants_file).values(), key=lambda t: t.name)
        ]

    async def _page(
        self,
        request: web.Request,
        *,
        made: Made | None = None,
        removed: str | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> web.Response:
        try:
            rows = await asyncio.to_thread(self._rows)
        except TenantsError as problem:
            rows, error, status = [], str(problem), 500
        host = request.url.host or "localhost"
        context = {
            "tenants": rows,
            "console_url": lambda port: f"{request.scheme}://{host}:{port}/",
            "made": made,
            "removed": removed,
            "error": error,
        }
        return self._templates.response(request, "tenants.html", context, status=status)

    @needs(Role.ADMIN)
    async def listing(self, request: web.Request) -> web.Response:
        return await self._page(request)

    @needs(Role.ADMIN)
    async def add(self, request: web.Request) -> web.Response:
        form = await form_of(request)
        name, title = str(form.get("name", "")).strip(), str(form.get("title", "")).strip()
        admin = str(form.get("admin", "")).strip() or None
        try:
            added = await asyncio.to_thread(add_tenant, name, title)
        except (ValueError, OSError) as problem:  # TenantsError among them: a name taken or not valid
            return await self._page(request, error=str(problem), status=400)
        made = Made(added.tenant.name, added.topic_root)
        if admin is not None:
            try:
                accounts = Accounts(added.folder / ACCOUNTS_FILE)
                password = await asyncio.to_thread(accounts.add, admin, Role.ADMIN)
                made = Made(added.tenant.name, added.topic_root, admin, password)
            except AccountError as problem:
                return await self._page(request, made=made, error=str(problem), status=400)
        await asyncio.to_thread(reload_broker, self._security())
        log.info("tenant added in the console tenant=%s account=%s", name, session_of(request).account.name)
        return await self._page(request, made=made)

    @needs(Role.ADMIN)
    async def remove(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        try:
            await asyncio.to_thread(remove_tenant, name)
        except TenantsError as problem:
            return await self._page(request, error=str(problem), status=404)
        await asyncio.to_thread(reload_broker, self._security())
        log.info("tenant removed in the console tenant=%s account=%s", name, session_of(request).account.name)
        return await self._page(request, removed=name)
