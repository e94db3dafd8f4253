"""Open data in the console (#19 point 1): staff see what is public and how (the privacy each stream gets), and
operators publish or withdraw a site, a device or a quantity, and set the licence, as `suitcase opendata` does
(the same file, devices/opendata/store.py). The public side itself is `suitcase opendata serve`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from iot_suitcase.devices.catalog import Catalog
from iot_suitcase.devices.opendata.model import LICENCES, Choice, Scope
from iot_suitcase.devices.opendata.store import OpenDataError, change_choice, change_licence, load_rules
from iot_suitcase.devices.opendata.streams import published_streams
from iot_suitcase.devices.registry import Registry
from iot_suitcase.ingest.console.accounts import Role
from iot_suitcase.ingest.console.auth import form_of, needs, session_of
from iot_suitcase.ingest.console.rendering import Templates

log = logging.getLogger(__name__)


class OpenDataPage:
    def __init__(
        self, templates: Templates, rules_file: Path, registry: Callable[[], Registry], catalog: Catalog
    ) -> None:
        self._templates = templates
        self._rules_file = rules_file
        self._registry = registry
        self._catalog = catalog

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/open-data", self.page)
        app.router.add_post("/open-data/publish", self.publish)
        app.router.add_post("/open-data/withdraw", self.withdraw)
        app.router.add_post("/open-data/licence", self.licence)

    async def _page(self, request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
        registry = self._registry()
        try:
            rules = await asyncio.to_thread(load_rules, self._rules_file)
        except OpenDataError as problem:
            return self._templates.response(
                request, "opendata.html", {"error": str(problem), "rules": None}, status=500
            )
        context = {
            "rules": rules,
            "streams": published_streams(registry, self._catalog, rules),
            "scopes": list(Scope),
            "licences": LICENCES,
            "sites": registry.sites,
            "devices": [device.id for device in registry.devices],
            "quantities": sorted(self._catalog.quantities),
            "error": error,
        }
        return self._templates.response(request, "opendata.html", context, status=status)

    @needs(Role.VIEWER)
    async def page(self, request: web.Request) -> web.Response:
        return await self._page(request)

    async def _change(self, request: web.Request, *, publish: bool) -> web.Response:
        form = await form_of(request)
        try:
            choice = Choice(Scope(str(form.get("scope", ""))), str(form.get("value", "")).strip())
            quantities = self._catalog.quantities
            await asyncio.to_thread(change_choice, self._rules_file, choice, publish=publish, quantities=quantities)
        except (ValueError, OpenDataError) as problem:  # an unknown scope, a name that is not one
            return await self._page(request, error=str(problem), status=400)
        verb = "published" if publish else "withdrawn"
        account = session_of(request).account.name
        log.info("open data %s in the console %s=%s account=%s", verb, choice.scope.value, choice.value, account)
        raise web.HTTPSeeOther("/open-data")

    @needs(Role.OPERATOR)
    async def publish(self, request: web.Request) -> web.Response:
        return await self._change(request, publish=True)

    @needs(Role.OPERATOR)
    async def withdraw(self, request: web.Request) -> web.Response:
        return await self._change(request, publish=False)

    @needs(Role.OPERATOR)
    async def licence(self, request: web.Request) -> web.Response:
        form = await form_of(request)
        try:
            await asyncio.to_thread(
                change_licence, self._rules_file, str(form.get("licence", "")), str(form.get("attribution", ""))
            )
        except OpenDataError as problem:
            return await self._page(request, error=str(problem), status=400)
        raise web.HTTPSeeOther("/open-data")
