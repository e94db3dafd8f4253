"""Who may see what: the console's login, logout, sessions, CSRF checks and roles, as one aiohttp middleware.

Open without a login: ``/healthz``, ``/readyz``, HTTP ingestion (``/v1/...``, which checks its device keys)
and the login page. ``/metrics`` takes the configured bearer token or a login. Every other path needs a
session; a page (a browser asking for HTML) redirects to the login, anything else answers 401. Every request
that changes something carries the session's CSRF token (a form field or the ``X-CSRF-Token`` header); the
login form has its own (a cookie and a field that must match). A handler that needs more than a viewer says
so with ``@needs(Role.OPERATOR)``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import re
import secrets
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDictProxy
from pydantic import SecretStr
from yarl import URL

from iot_suitcase.ingest.console.accounts import Accounts, Role, Session
from iot_suitcase.ingest.console.rendering import LANGUAGES, Templates, browser_language
from iot_suitcase.ingest.console.settings import ConsoleSettings
from iot_suitcase.ingest.console.throttle import LoginThrottle
from iot_suitcase.ingest.operations.peers import INTERNAL_PREFIX

log = logging.getLogger(__name__)

H = TypeVar("H", bound=Callable[..., Any])  # a handler function or method

SESSION_COOKIE = "suitcase_session"
LOGIN_COOKIE = "suitcase_login"  # the login form's CSRF token: the form's field must match it
_LOGIN_TOKEN_CHARS = 32
SESSION_KEY = web.RequestKey("session", Session)
# The tenants file, on the installation's own console, whose administrators are the platform's (they manage its
# tenants); its menu offers the page once the installation has tenants (a single municipality's sees no change)
PLATFORM_CONSOLE = web.AppKey("platform_console", Path)
FORM_KEY: web.RequestKey[MultiDictProxy[Any]] = web.RequestKey("form", MultiDictProxy)
_FORM_MAX_BYTES = 8 << 20  # a starter kit's sheet of some ten thousand devices
_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/login"})
_INGESTION_PREFIX = "/v1/"  # HTTP ingestion: device keys, not logins
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def security_headers(map_tiles_url: str | None) -> dict[str, str]:
    """Every console answer's headers: nothing but this origin's scripts, and images from it or the map's
    tile server."""
    tiles = URL(map_tiles_url).origin() if map_tiles_url else None
    images = "'self' data:" + (f" {tiles}" if tiles else "")
    return {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
        "Content-Security-Policy": f"default-src 'self'; style-src 'self' 'unsafe-inline'; img-src {images}; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    }


async def form_of(request: web.Request) -> MultiDictProxy[Any]:
    """A console form, read once (the CSRF check reads it first) and up to ``_FORM_MAX_BYTES``: a CSV sheet
    may be larger than the HTTP ingestion limit the application's ``client_max_size`` is set to."""
    found: MultiDictProxy[Any] | None = request.get(FORM_KEY)
    if found is None:
        found = await request.clone(client_max_size=_FORM_MAX_BYTES).post()
        request[FORM_KEY] = found
    return found


def needs(role: Role) -> Callable[[H], H]:
    """Mark a handler as needing at least ``role`` (every console handler needs a viewer)."""

    def mark(handler: H) -> H:
        handler.needs_role = role  # type: ignore[attr-defined]
        return handler

    return mark


def session_of(request: web.Request) -> Session:
    """The session of a request the middleware let through to a console handler."""
    return request[SESSION_KEY]


def _loopback(request: web.Request) -> bool:
    """Whether the browser reached us on this machine, where it keeps a Secure cookie over plain http."""
    host = request.url.host or ""
    try:
        return host == "localhost" or ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_LOCAL_PATH = re.compile(r"/(?![/\\])[^\s\\\x00-\x1f\x7f]*")


def local_path(target: str) -> str:
    """Where to go after a form: a path of this site only. Never two slashes or a backslash at its start, never
    ``https://...``, and no whitespace or control character, which a browser strips into two slashes."""
    return target if _LOCAL_PATH.fullmatch(target) else "/"


def _bearer_is(request: web.Request, token: SecretStr | None) -> bool:
    given = request.headers.get("Authorization", "")
    if token is None or not given.startswith("Bearer "):
        return False
    return hmac.compare_digest(given.removeprefix("Bearer ").encode(), token.get_secret_value().encode())


class ConsoleAuth:
    def __init__(
        self,
        accounts: Accounts,
        settings: ConsoleSettings,
        templates: Templates,
        *,
        throttle: LoginThrottle | None = None,
        tenant: str | None = None,
        worker_token: SecretStr | None = None,
    ) -> None:
        self._worker_token = worker_token  # another worker of the same service asking worker 0's questions
        # Browsers send a host's cookies to every port of it: each tenant's console (its own port) has cookies
        # of its own names, so logging in to one never logs out of another in the same browser
        suffix = "" if tenant is None else f"_{tenant}"
        self._session_cookie, self._login_cookie = SESSION_COOKIE + suffix, LOGIN_COOKIE + suffix
        self._accounts = accounts
        self._settings = settings
        self._templates = templates
        self._throttle = throttle or LoginThrottle()
        self._security_headers = security_headers(settings.map_tiles)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/login", self.login_page)
        app.router.add_post("/login", self.login)
        app.router.add_post("/logout", self.logout)

    # --- the middleware -----------------------------------------------------------------------------------
    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path in _OPEN_PATHS or path.startswith(_INGESTION_PREFIX):
            return await self._headers(handler, request)
        if path == "/metrics" and self._bearer_ok(request):
            return await handler(request)
        if (path == "/metrics" or path.startswith(INTERNAL_PREFIX)) and _bearer_is(request, self._worker_token):
            return await handler(request)
        session = await self._session(request)
        if session is None:
            if request.method in _SAFE_METHODS and "text/html" in request.headers.get("Accept", ""):  # a page
                raise web.HTTPSeeOther(URL("/login").with_query(next=request.path_qs))
            raise web.HTTPUnauthorized(
                text='{"error": "login_required", "reason": "log in to the console first"}',
                content_type="application/json",
            )
        if request.method not in _SAFE_METHODS and not await self._csrf_ok(request, session):
            log.warning("console request without its CSRF token account=%s path=%s", session.account.name, path)
            raise web.HTTPForbidden(text="The form had expired or did not come from this console: reload the page.")
        needed: Role = getattr(request.match_info.handler, "needs_role", Role.VIEWER)
        if not session.account.role.allows(needed):
            raise web.HTTPForbidden(text=f"This needs the {needed.value} role; you are {session.account.role.value}.")
        request[SESSION_KEY] = session
        return await self._headers(handler, request)

    async def _headers(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        response = await handler(request)
        if not request.path.startswith(_INGESTION_PREFIX):
            for name, value in self._security_headers.items():
                response.headers.setdefault(name, value)
        return response

    def _bearer_ok(self, request: web.Request) -> bool:
        return _bearer_is(request, self._settings.metrics_token)

    async def _session(self, request: web.Request) -> Session | None:
        token = request.cookies.get(self._session_cookie)
        if not token:
            return None
        return await asyncio.to_thread(self._accounts.session, token)

    @staticmethod
    async def _csrf_ok(request: web.Request, session: Session) -> bool:
        given = request.headers.get("X-CSRF-Token")
        if given is None and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            given = str((await form_of(request)).get("csrf", ""))
        return given is not None and hmac.compare_digest(given.encode(), session.csrf.encode())

    # --- login and logout ---------------------------------------------------------------------------------
    def _cookie(self, response: web.StreamResponse, name: str, value: str) -> None:
        response.set_cookie(name, value, httponly=True, secure=self._settings.cookie_secure, samesite="Lax", path="/")

    async def login_page(self, request: web.Request) -> web.Response:
        return self._login_form(request, error=None, status=200)

    def _login_form(self, request: web.Request, *, error: str | None, status: int, name: str = "") -> web.Response:
        # one token per browser: a second login page (another tab, a favicon redirected here) keeps the first
        kept = request.cookies.get(self._login_cookie, "")
        token = kept if len(kept) == _LOGIN_TOKEN_CHARS and kept.isascii() else secrets.token_urlsafe(24)
        response = self._templates.response(
            request,
            "login.html",
            {
                "csrf": token,
                "next": local_path(request.query.get("next", "/")),
                "error": error,
                "name": name,
                "cookie_dropped": self._settings.cookie_secure and not request.secure and not _loopback(request),
            },
            status=status,
        )
        self._cookie(response, self._login_cookie, token)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await form_of(request)
        name, password = str(form.get("name", ""))[:64], str(form.get("password", ""))[:1024]
        expected = request.cookies.get(self._login_cookie, "")
        if not expected or not hmac.compare_digest(str(form.get("csrf", "")).encode(), expected.encode()):
            return self._login_form(request, error="form_expired", status=400, name=name)
        address = request.remote or "-"
        wait_s = self._throttle.wait_s(name, address)
        if wait_s > 0:
            log.warning("console login refused: too many failures account=%s remote=%s", name, address)
            response = self._login_form(request, error="too_many", status=429, name=name)
            response.headers["Retry-After"] = str(math.ceil(wait_s))
            return response
        account = await asyncio.to_thread(self._accounts.verify, name, password)
        if account is None:
            self._throttle.failed(name, address)
            log.warning("console login failed account=%s remote=%s", name, address)
            return self._login_form(request, error="wrong", status=401, name=name)
        self._throttle.succeeded(name)
        token, _session = await asyncio.to_thread(self._accounts.open_session, account)
        log.info("console login account=%s role=%s remote=%s", account.name, account.role.value, address)
        response = web.Response(status=303, headers={"Location": local_path(str(form.get("next", "/")))})
        self._cookie(response, self._session_cookie, token)
        response.del_cookie(self._login_cookie, path="/")
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        await asyncio.to_thread(self._accounts.close_session, session)
        log.info("console logout account=%s", session.account.name)
        response = web.Response(status=303, headers={"Location": "/login"})
        response.del_cookie(self._session_cookie, path="/")
        return response


def language_of(request: web.Request) -> str:
    """The account's chosen language, else the browser's."""
    session: Session | None = request.get(SESSION_KEY)
    chosen = session.account.language if session is not None else None
    return chosen if chosen in LANGUAGES else browser_language(request)


def template_globals(request: web.Request) -> dict[str, Any]:
    """What every console page knows of its viewer (nothing before the login)."""
    session = request.get(SESSION_KEY)
    role = session.account.role if session else None
    return {
        "account": session.account if session else None,
        "csrf": session.csrf if session else "",
        "request_path": request.path_qs,
        "can_operate": role is not None and role.allows(Role.OPERATOR),  # what the pages offer: as @needs checks
        "is_admin": role is not None and role.allows(Role.ADMIN),
        "is_platform_admin": role is not None
        and role.allows(Role.ADMIN)
        and _shared(request.app.get(PLATFORM_CONSOLE)),
    }


def _shared(tenants_file: Path | None) -> bool:
    return tenants_file is not None and tenants_file.exists()
