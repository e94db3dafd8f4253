"""The console's pages: the status page (``/``), the operations sections framed for the logged-in viewer, and
the accounts page (``/accounts``, admins only), the same operations as `suitcase users`."""

from __future__ import annotations

import asyncio

from aiohttp import web
from markupsafe import Markup

from iot_suitcase.ingest.console.accounts import AccountError, Accounts, Role
from iot_suitcase.ingest.console.auth import local_path, needs, session_of
from iot_suitcase.ingest.console.rendering import LANGUAGES, Templates
from iot_suitcase.ingest.operations.web import StatusPages


class ConsolePages:
    def __init__(self, status: StatusPages, accounts: Accounts, templates: Templates) -> None:
        self._status = status
        self._accounts = accounts
        self._templates = templates

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.home)
        app.router.add_get("/accounts", self.accounts)
        app.router.add_post("/accounts", self.add_account)
        app.router.add_post("/accounts/{name}/remove", self.remove_account)
        app.router.add_post("/language", self.choose_language)

    async def home(self, request: web.Request) -> web.Response:
        sections = Markup(await self._status.sections())  # noqa: S704 (built with every value escaped)
        return self._templates.response(request, "status.html", {"sections": sections})

    async def _accounts_page(
        self, request: web.Request, *, status: int = 200, error: str | None = None, made: tuple[str, str] | None = None
    ) -> web.Response:
        listed = await asyncio.to_thread(self._accounts.list)
        context = {"accounts": listed, "roles": list(Role), "error": error, "made": made}
        return self._templates.response(request, "accounts.html", context, status=status)

    async def choose_language(self, request: web.Request) -> web.StreamResponse:
        """Keep the viewer's language with their account; empty: follow the browser again."""
        form = await request.post()
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
        form = await request.post()
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
