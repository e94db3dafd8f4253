"""A console login over real HTTP, as a browser makes it: the login form, its CSRF cookie and field, the
session cookie. urllib keeps no Secure cookie over plain http, so the cookies are carried by hand."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.client import HTTPResponse
from pathlib import Path

from iot_suitcase.ingest.console.accounts import Accounts, Role
from tests.helpers import IngestProcess, unique


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    cookies: dict[str, str]
    set_cookies: list[str]  # the Set-Cookie headers as sent
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def request(url: str, *, data: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Answer:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    sent = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        response: HTTPResponse = _OPENER.open(sent, timeout=10)
    except urllib.error.HTTPError as error:
        response = error  # type: ignore[assignment]
    with response:
        cookies, set_cookies = {}, response.headers.get_all("Set-Cookie") or []
        for value in set_cookies:
            name, _, rest = value.partition("=")
            cookies[name] = rest.split(";", 1)[0].strip('"')
        return Answer(response.status, dict(response.headers.items()), cookies, set_cookies, response.read())


def form_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has a form with its CSRF token"
    return found.group(1)


@dataclass
class Console:
    """A logged-in session of one account."""

    base_url: str
    name: str
    password: str
    cookies: dict[str, str] = field(default_factory=dict)

    def login(self) -> Answer:
        page = request(f"{self.base_url}/login")
        login_cookie = next(name for name in page.cookies if name.startswith("suitcase_login"))  # a tenant's: _NAME
        answer = request(
            f"{self.base_url}/login",
            data={"name": self.name, "password": self.password, "csrf": form_csrf(page.text), "next": "/"},
            headers={"Cookie": f"{login_cookie}={page.cookies[login_cookie]}"},
        )
        self.cookies = {k: v for k, v in answer.cookies.items() if v}
        return answer

    def _cookie_header(self) -> dict[str, str]:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {"Cookie": cookie, "Accept": "text/html,application/json;q=0.9,*/*;q=0.8"}  # as a browser asks

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return request(f"{self.base_url}{path}", headers={**self._cookie_header(), **(headers or {})})

    def post(self, path: str, data: dict[str, str]) -> Answer:
        return request(f"{self.base_url}{path}", data=data, headers=self._cookie_header())

    def csrf(self) -> str:
        return form_csrf(self.get("/").text)


def console(base_url: str, accounts_file: Path, role: Role = Role.VIEWER) -> Console:
    """A new account of ``role`` in the service's accounts file, logged in."""
    name = unique(f"{role.value}-")
    password = Accounts(accounts_file).add(name, role)
    session = Console(base_url, name, password)
    assert session.login().status == 303
    return session


_VIEWERS: dict[tuple[str, str], Console] = {}


def viewer(ingest: IngestProcess) -> Console:
    """A viewer logged in to this ingest service (one per service and port, made on first use)."""
    accounts_file = Path(ingest.env["SUITCASE_ACCOUNTS_FILE"])
    key = (str(accounts_file), ingest.http_url)
    if key not in _VIEWERS:
        _VIEWERS[key] = console(ingest.http_url, accounts_file)
    return _VIEWERS[key]
