"""The console's pages: the fleet at a glance (``/``, its live part refreshed in place by ``console.js``), one
device (``/devices/<id>``) and taking its waiting messages in, the viewer's language, and the accounts page
(``/accounts``, admins only: the same operations as `suitcase users`). Onboarding is ``onboarding.py``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

from aiohttp import web

from iot_suitcase.devices.links import health_dashboard_url, kind_dashboard_url
from iot_suitcase.ingest.console.accounts import AccountError, Accounts, Role
from iot_suitcase.ingest.console.auth import form_of, local_path, needs, session_of
from iot_suitcase.ingest.console.chart import sparkline
from iot_suitcase.ingest.console.display import ago, shown
from iot_suitcase.ingest.console.fleet import FleetQuery, device_row, fleet
from iot_suitcase.ingest.console.rendering import LANGUAGES, Templates
from iot_suitcase.ingest.operations.web import StatusPages
from iot_suitcase.ingest.sink.history import History

log = logging.getLogger(__name__)
_LISTED = 25  # unknown devices, refusals and rejects listed on the first screen (the APIs list more)
_STATIC = files("iot_suitcase.ingest.console").joinpath("static")
_SCRIPTS = {name: _STATIC.joinpath(name).read_text(encoding="utf-8") for name in ("console.js", "map.js")}


@dataclass(frozen=True, slots=True)
class Reachable:
    """How devices reach this installation, for the device page's connection settings."""

    topic_root: str
    mqtt_port: int
    grafana_url: str | None
    ca_file: Path | None = None  # devices check the broker with it: TLS on mqtt_port


class ConsolePages:
    def __init__(
        self,
        status: StatusPages,
        accounts: Accounts,
        templates: Templates,
        *,
        history: History | None = None,
        reachable: Reachable = Reachable("suitcase", 1883, None),
        refresh: Callable[[], object] = lambda: None,
    ) -> None:
        self._status = status
        self._accounts = accounts
        self._templates = templates
        self._history = history
        self._reachable = reachable
        self._refresh = refresh  # the registry as the file says now: a device added a moment ago is shown

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.home)
        for name in _SCRIPTS:
            app.router.add_get(f"/{name}", self.script)
        app.router.add_get("/ca.crt", self.ca_certificate)
        app.router.add_get("/devices/{device}", self.device)
        app.router.add_get("/accounts", self.accounts)
        app.router.add_post("/accounts", self.add_account)
        app.router.add_post("/accounts/{name}/remove", self.remove_account)
        app.router.add_post("/language", self.choose_language)
        app.router.add_post("/devices/{device}/take-in", self.take_in)

    async def home(self, request: web.Request) -> web.Response:
        await asyncio.to_thread(self._refresh)
        status = self._status
        language = self._templates.language(request)
        waiting, taking_in = await asyncio.to_thread(status.waiting)
        view = await status.view()
        rows = [device_row(row, language, waiting, taking_in) for row in view.devices]
        query = FleetQuery.from_query(request.query)
        context = {
            "fleet": fleet(rows, query, len(view.strangers)),
            "query": query,
            "problems": status.problem_list(),
            "log_damage": status.log_damage(),
            "figures": view.figures,
            "strangers": view.strangers[:_LISTED],
            "refusals": status.refusals.latest()[:_LISTED],
            "refusal_counts": dict(sorted(status.refusals.counts.items())),
            "broker_refusals": status.broker_refusals.latest()[:_LISTED],
            "broker_counts": dict(sorted(status.broker_refusals.counts.items())),
            "rejects": await status.latest_rejects(_LISTED),
            "ago": lambda moment: ago(moment, language),
        }
        live = request.headers.get("X-Fragment") == "live"  # console.js asks for the changing part only
        return self._templates.response(request, "fleet_live.html" if live else "fleet.html", context)

    async def device(self, request: web.Request) -> web.Response:
        """One device: its latest values with a day's chart each, its state, its recent rejects, how it
        connects (ready-to-copy commands) and its Grafana dashboard."""
        device_id = request.match_info["device"]
        await asyncio.to_thread(self._refresh)
        status = self._status
        language = self._templates.language(request)
        found = await status.device(device_id)
        if found is None:
            return self._templates.response(request, "no_device.html", {"device_id": device_id}, status=404)
        waiting, taking_in = await asyncio.to_thread(status.waiting)
        row = device_row(found, language, waiting, taking_in)
        latest: dict[str, dict[str, object]] = found["latest"]  # type: ignore[assignment]
        history = await self._history.last_day(device_id, sorted(latest)) if self._history and latest else {}
        now = datetime.now(UTC)
        readings = [
            {
                "shown": shown(quantity, float(r["value"]), str(r["unit"]), language),  # type: ignore[arg-type]
                "time": datetime.fromisoformat(str(r["time"])),
                "chart": sparkline((history or {}).get(quantity, []), now, quantity),
            }
            for quantity, r in sorted(latest.items())
        ]
        spec = status.registry.get(device_id)
        reach = self._reachable
        host = request.url.host or "127.0.0.1"
        context: dict[str, object] = {
            "d": row,
            "spec": spec,
            "added": request.query.get("added") == "1",
            "readings": readings,
            "history_failed": history is None,
            "rejects": await status.latest_rejects(_LISTED, device=device_id),
            "broker_refusals": status.broker_refusals.of(device_id)[:_LISTED],
            "ago": lambda moment: ago(moment, language),
            "mqtt": {
                "host": host,
                "port": reach.mqtt_port,
                "topic": f"{reach.topic_root}/{device_id}/up",
                "tls": reach.ca_file is not None,
            },
            "http_url": f"{request.url.scheme}://{request.host}/v1/devices/{device_id}/readings",
            "grafana": kind_dashboard_url(reach.grafana_url, row.kind, device_id)
            if reach.grafana_url and row.kind
            else None,
            "grafana_health": health_dashboard_url(reach.grafana_url, device_id) if reach.grafana_url else None,
        }
        return self._templates.response(request, "device.html", context)

    async def ca_certificate(self, _request: web.Request) -> web.Response:
        """The broker's CA certificate (public), for devices to check the broker with."""
        path = self._reachable.ca_file
        if path is None:
            raise web.HTTPNotFound(text="this installation's broker has no CA certificate configured")
        try:
            text = await asyncio.to_thread(path.read_text, encoding="ascii")
        except (OSError, UnicodeDecodeError) as error:
            raise web.HTTPNotFound(text=f"the broker's CA certificate cannot be read: {error}") from None
        disposition = {"Content-Disposition": 'attachment; filename="ca.crt"'}
        return web.Response(text=text, content_type="application/x-pem-file", headers=disposition)

    async def script(self, request: web.Request) -> web.Response:
        return web.Response(text=_SCRIPTS[request.path.lstrip("/")], content_type="application/javascript")

    async def _accounts_page(
        self, request: web.Request, *, status: int = 200, error: str | None = None, made: tuple[str, str] | None = None
    ) -> web.Response:
        listed = await asyncio.to_thread(self._accounts.list)
        context = {"accounts": listed, "roles": list(Role), "error": error, "made": made}
        return self._templates.response(request, "accounts.html", context, status=status)

    @needs(Role.OPERATOR)
    async def take_in(self, request: web.Request) -> web.StreamResponse:
        """Ask the service to take in the messages a registered device sent before it was registered."""
        device = request.match_info["device"]
        if device not in self._status.registry:
            raise web.HTTPNotFound(text=f"{device} is not in the registry")
        await asyncio.to_thread(self._status.ask_to_take_in, device)
        log.info("take-in asked device=%s account=%s", device, session_of(request).account.name)
        back = str((await form_of(request)).get("back", "/"))
        return web.Response(status=303, headers={"Location": local_path(back)})

    async def choose_language(self, request: web.Request) -> web.StreamResponse:
        """Keep the viewer's language with their account; empty: follow the browser again."""
        form = await form_of(request)
        language = str(form.get("language", ""))
        if language and language not in LANGUAGES:
            raise web.HTTPBadRequest(text=f"the console speaks {', '.join(LANGUAGES)}")
        await asyncio.to_thread(self._accounts.set_language, session_of(request).account.name, language or None)
        return web.Response(status=303, headers={"Location": local_path(str(form.get("back", "/")))})

    @needs(Role.ADMIN)
    async def accounts(self, request: web.Request) -> web.Response:
        return await self._accounts_page(request)

    @needs(Role.ADMIN)
    async def add_account(self, request: web.Request) -> web.Response:
        form = await form_of(request)
        name, role = str(form.get("name", "")), str(form.get("role", ""))
        if role not in {r.value for r in Role}:
            return await self._accounts_page(request, status=400, error=f"unknown role {role!r}")
        try:
            password = await asyncio.to_thread(self._accounts.add, name, Role(role))
        except AccountError as error:
            return await self._accounts_page(request, status=400, error=str(error))
        return await self._accounts_page(request, made=(name, password))

    @needs(Role.ADMIN)
    async def remove_account(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name.lower() == session_of(request).account.name.lower():
            return await self._accounts_page(request, status=400, error="you cannot remove your own account")
        try:
            await asyncio.to_thread(self._accounts.remove, name)
        except AccountError as error:
            return await self._accounts_page(request, status=400, error=str(error))
        return web.Response(status=303, headers={"Location": "/accounts"})
