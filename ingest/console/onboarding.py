"""Onboarding in the browser (#15 points 5 and 8), for operators: add a device, import a CSV sheet (again, in
update mode), remove a device, issue its credentials (shown once), give a network server a broker account.
Each is the same operation the CLI runs (``Registry.add_given``, ``import_csv``, ``issue_credentials``,
``add_integration``), under the registry file's lock, so the console and the CLI check the same and say the
same; the service sees a change at once.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.credentials.issuing import (
    PASTE_WHERE,
    add_integration,
    integration_settings,
    issue_credentials,
    open_store,
    reload_broker,
    remove_integration,
)
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.credentials.store import INTEGRATION_KINDS, integration_user
from iot_suitcase.devices.formats.base import network_prefix
from iot_suitcase.devices.registry import Device, Problem, RegistryError, RegistryFile
from iot_suitcase.devices.registry.importer import format_tags, import_csv, parse_tags
from iot_suitcase.ingest.console.accounts import Role
from iot_suitcase.ingest.console.auth import form_of, needs, session_of
from iot_suitcase.ingest.console.mapview import MapTiles, map_view
from iot_suitcase.ingest.console.rendering import Templates

log = logging.getLogger(__name__)

FIELDS = ("id", "model", "site", "kind", "name", "lat", "lon", "dev_eui", "interval_s", "tags", "gateway")
Form = MultiDictProxy[Any]


def given_device(form: Mapping[str, str]) -> dict[str, object]:
    """The form's values as ``Registry.add_given`` takes them; a ``RegistryError`` for what cannot be read."""
    problems = []
    texts = ("id", "model", "site", "kind", "name", "gateway")
    given: dict[str, object] = {key: form.get(key, "").strip() for key in texts}
    given["dev_eui"] = form.get("dev_eui", "").strip()
    lat, lon = form.get("lat", "").strip(), form.get("lon", "").strip()
    if bool(lat) != bool(lon):
        problems.append(Problem("latitude and longitude go together", field="lat"))
    elif lat:
        try:
            given["location"] = {"lat": float(lat), "lon": float(lon)}
        except ValueError:
            problems.append(Problem("latitude and longitude are numbers, like 56.1530 and 10.2040", field="lat"))
    interval = form.get("interval_s", "").strip()
    if interval:
        if interval.isdecimal():
            given["interval_s"] = int(interval)
        else:
            problems.append(Problem("the interval is a whole number of seconds", field="interval_s"))
    try:
        given["tags"] = parse_tags(form.get("tags", ""))
    except ValueError as error:
        problems.append(Problem(str(error), field="tags"))
    if problems:
        raise RegistryError(problems)
    return given


def form_values(device: Device) -> dict[str, str]:
    """A registered device as the form shows it, to be edited."""
    return {
        "id": device.id,
        "model": device.model,
        "site": device.site,
        "kind": device.kind or "",
        "name": "" if device.name == device.id else device.name,
        "lat": "" if device.location is None else f"{device.location.lat}",
        "lon": "" if device.location is None else f"{device.location.lon}",
        "dev_eui": device.dev_eui or "",
        "interval_s": str(device.interval_s),
        "tags": format_tags(device.tags),
        "gateway": device.gateway or "",
    }


class Onboarding:
    def __init__(
        self,
        registry_file: RegistryFile,
        templates: Templates,
        security: Callable[[], SecuritySettings],
        mqtt_port: int = 1883,
        map_tiles: MapTiles | None = None,
    ) -> None:
        self._mqtt_port = mqtt_port  # the device listener, where a network server publishes
        self._map_tiles = map_tiles
        self._file = registry_file
        self._templates = templates
        self._security = security

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/add-device", self.add_form)
        app.router.add_post("/add-device", self.add)
        app.router.add_get("/import", self.import_form)
        app.router.add_post("/import", self.import_sheet)
        app.router.add_post("/devices/{device}/remove", self.remove)
        app.router.add_get("/devices/{device}/edit", self.edit_form)
        app.router.add_post("/devices/{device}/edit", self.edit)
        app.router.add_post("/devices/{device}/credentials", self.credentials)
        app.router.add_get("/integrations", self.integrations)
        app.router.add_post("/integrations", self.add_integration)
        app.router.add_post("/integrations/{name}/remove", self.remove_integration)

    def _choices(self, values: Mapping[str, str]) -> dict[str, Any]:
        registry = self._file.load()
        return {
            "models": ["native", *sorted(registry.models)],
            "kinds": sorted(load_catalog().kinds),
            "sites": sorted({device.site for device in registry.devices}),
            "map": None if self._map_tiles is None else {"tiles": self._map_tiles, **map_view(values, registry)},
        }

    async def _form(
        self,
        request: web.Request,
        values: Mapping[str, str],
        problems: list[Problem],
        status: int = 200,
        editing: str | None = None,
    ) -> web.Response:
        choices = await asyncio.to_thread(self._choices, values)
        context = {
            "values": {k: values.get(k, "") for k in FIELDS},
            "problems": problems,
            "editing": editing,
            **choices,
        }
        return self._templates.response(request, "add_device.html", context, status=status)

    @needs(Role.OPERATOR)
    async def add_form(self, request: web.Request) -> web.Response:
        return await self._form(request, {}, [])

    @needs(Role.OPERATOR)
    async def add(self, request: web.Request) -> web.StreamResponse:
        form = {key: str(value) for key, value in (await form_of(request)).items() if isinstance(value, str)}
        try:
            device = await asyncio.to_thread(self._add, given_device(form))
        except RegistryError as error:
            return await self._form(request, form, error.problems, status=400)
        log.info("device added in the console device=%s account=%s", device.id, session_of(request).account.name)
        return web.Response(status=303, headers={"Location": f"/devices/{device.id}?added=1"})

    def _add(self, given: Mapping[str, object]) -> Device:
        with self._file.edit() as registry:
            return registry.add_given(given)

    @needs(Role.OPERATOR)
    async def edit_form(self, request: web.Request) -> web.Response:
        device = (await asyncio.to_thread(self._file.load)).get(request.match_info["device"])
        if device is None:
            raise web.HTTPNotFound(text="no such device in the registry")
        return await self._form(request, form_values(device), [], editing=device.id)

    @needs(Role.OPERATOR)
    async def edit(self, request: web.Request) -> web.StreamResponse:
        device_id = request.match_info["device"]
        form = {key: str(value) for key, value in (await form_of(request)).items() if isinstance(value, str)}
        try:
            await asyncio.to_thread(self._replace, device_id, given_device(form))
        except RegistryError as error:
            return await self._form(request, {**form, "id": device_id}, error.problems, status=400, editing=device_id)
        log.info("device changed in the console device=%s account=%s", device_id, session_of(request).account.name)
        return web.Response(status=303, headers={"Location": f"/devices/{device_id}"})

    def _replace(self, device_id: str, given: Mapping[str, object]) -> Device:
        with self._file.edit() as registry:
            return registry.replace_given(device_id, given)

    @needs(Role.OPERATOR)
    async def remove(self, request: web.Request) -> web.StreamResponse:
        device_id = request.match_info["device"]
        try:
            await asyncio.to_thread(self._remove, device_id)
        except RegistryError as error:
            raise web.HTTPNotFound(text=str(error)) from None
        log.info("device removed in the console device=%s account=%s", device_id, session_of(request).account.name)
        return web.Response(status=303, headers={"Location": "/"})

    def _remove(self, device_id: str) -> None:
        with self._file.edit() as registry:
            registry.remove(device_id)

    @needs(Role.OPERATOR)
    async def import_form(self, request: web.Request) -> web.Response:
        return self._templates.response(request, "import.html", {"problems": [], "imported": None, "text": ""})

    @needs(Role.OPERATOR)
    async def import_sheet(self, request: web.Request) -> web.Response:
        form = await form_of(request)
        upload = form.get("file")
        text = str(form.get("text", ""))
        if isinstance(upload, web.FileField) and upload.filename:
            try:
                text = upload.file.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                problem = Problem("the file is not UTF-8 text: save it as “CSV UTF-8”")
                context = {"problems": [problem], "imported": None, "text": ""}
                return self._templates.response(request, "import.html", context, status=400)
        update = form.get("update") == "on"
        try:
            imported, total = await asyncio.to_thread(self._import, text, update)
        except RegistryError as error:
            refused: dict[str, object] = {"problems": error.problems, "imported": None, "text": text}
            return self._templates.response(request, "import.html", refused, status=400)
        log.info("devices imported in the console devices=%d update=%s", len(imported), update)
        done: dict[str, object] = {"problems": [], "imported": imported, "total": total, "text": ""}
        return self._templates.response(request, "import.html", done)

    def _import(self, text: str, update: bool) -> tuple[list[Device], int]:
        with self._file.edit() as registry:
            imported = import_csv(registry, io.StringIO(text), update=update, progress=False)
            return imported, len(registry)

    @needs(Role.OPERATOR)
    async def credentials(self, request: web.Request) -> web.Response:
        """Issue (or rotate) a device's credentials; the page shows them this once and is not cached."""
        device_id = request.match_info["device"]
        settings = self._security()
        if settings.mqtt_password is None:
            raise web.HTTPConflict(text="run `suitcase init` first: the broker accounts are not set up")
        try:
            registry = await asyncio.to_thread(self._file.load)
            issued, warnings = await asyncio.to_thread(issue_credentials, device_id, registry, settings)
        except RegistryError as error:
            raise web.HTTPNotFound(text=str(error)) from None
        reloaded = await asyncio.to_thread(reload_broker, settings)
        for warning in warnings:
            log.warning("%s", warning)
        log.info("credentials issued in the console device=%s account=%s", device_id, session_of(request).account.name)
        context = {"issued": issued, "topic": f"{settings.topic_root}/{device_id}/up", "reloaded": reloaded}
        return self._templates.response(request, "credentials.html", context)

    # --- network servers (#15 point 8) ----------------------------------------------------------------------
    async def _integrations_page(
        self,
        request: web.Request,
        *,
        made: str | None = None,
        made_kind: str | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> web.Response:
        settings = self._security()
        store = await asyncio.to_thread(open_store, settings)
        context = {
            "integrations": sorted(store.integrations.items()),
            "kinds": list(INTEGRATION_KINDS),
            "kind_names": INTEGRATION_KINDS,
            "paste_where": PASTE_WHERE,
            "made": made,
            "made_kind": made_kind,
            "error": error,
            "user_of": lambda name: integration_user(name, settings.tenant),
        }
        return self._templates.response(request, "integrations.html", context, status=status)

    @needs(Role.OPERATOR)
    async def integrations(self, request: web.Request) -> web.Response:
        return await self._integrations_page(request)

    @needs(Role.OPERATOR)
    async def add_integration(self, request: web.Request) -> web.Response:
        form = await form_of(request)
        settings = self._security()
        if settings.mqtt_password is None:
            return await self._integrations_page(request, error="run `suitcase init` first", status=409)
        kind, name = str(form.get("kind", "")), str(form.get("name", "")).strip()
        try:
            issued, warnings = await asyncio.to_thread(add_integration, kind, name, settings)
        except ValueError as error:
            return await self._integrations_page(request, error=str(error), status=400)
        for warning in warnings:
            log.warning("%s", warning)
        await asyncio.to_thread(reload_broker, settings)
        log.info(
            "network server account made in the console name=%s account=%s", name, session_of(request).account.name
        )
        host = request.url.host or "<this server's address>"
        mqtt_port = self._mqtt_port
        prefix = network_prefix(settings.topic_root, settings.tenant)
        made = integration_settings(kind, name, issued, host, mqtt_port, prefix=prefix)
        return await self._integrations_page(request, made=made, made_kind=kind)

    @needs(Role.OPERATOR)
    async def remove_integration(self, request: web.Request) -> web.StreamResponse:
        settings = self._security()
        if not await asyncio.to_thread(remove_integration, request.match_info["name"], settings):
            raise web.HTTPNotFound(text="no such network server")
        await asyncio.to_thread(reload_broker, settings)
        return web.Response(status=303, headers={"Location": "/integrations"})
