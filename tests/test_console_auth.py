"""The console's doors on a real ingest service (#15 point 1): nothing but health, readiness and device
ingestion opens without a login; logins are throttled; every form carries its CSRF token; roles hold;
/metrics takes its bearer token; a logout closes every page."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from iot_suitcase.ingest.console.accounts import Accounts, Role
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.console import Console, console, form_csrf, request
from tests.helpers import IngestProcess, unique

METRICS_TOKEN = secrets.token_urlsafe(24)  # made here: the repository holds no secret


@pytest.fixture
def service(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str) -> Iterator[IngestProcess]:
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "metrics_token": METRICS_TOKEN,
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    yield ingest
    ingest.terminate()


def accounts(tmp_path: Path) -> Accounts:
    return Accounts(tmp_path / "accounts.sqlite3")


def test_without_a_login_only_health_readiness_and_ingestion_answer(service: IngestProcess) -> None:
    url = service.http_url
    page = request(f"{url}/", headers={"Accept": "text/html,*/*"})
    assert (page.status, page.headers["Location"]) == (303, "/login?next=/")
    deep = request(f"{url}/api/rejects?limit=5&device=x", headers={"Accept": "text/html"})
    assert deep.status == 303
    assert deep.headers["Location"] == "/login?next=/api/rejects?limit%3D5%26device%3Dx", "back to it, whole"
    for path in ("/api/devices", "/api/rejects", "/api/refused", "/metrics", "/accounts"):
        answer = request(f"{url}{path}")
        assert answer.status in (401, 303), path
        assert b"kit-" not in answer.body
    assert json.loads(request(f"{url}/api/devices").body)["error"] == "login_required"
    assert request(f"{url}/metrics").status == 401, "a scraper is told, not redirected"
    assert request(f"{url}/favicon.ico", headers={"Accept": "image/*"}).status == 401
    assert request(f"{url}/healthz").status == 200
    assert request(f"{url}/readyz").status == 200
    posted = request(f"{url}/v1/devices/kit-1/readings", data={"x": "1"})
    assert posted.status == 401, "device ingestion answers with its own key check, not the login"
    assert b"X-API-Key" in posted.body or b"api" in posted.body.lower()
    login = request(f"{url}/login")
    assert login.status == 200
    assert 'name="password"' in login.text
    assert 'id="plain-http"' not in login.text, "on this machine the browser keeps the Secure cookie"
    remote = request(f"{url}/login", headers={"Host": "console.example:8080"})
    assert 'id="plain-http"' in remote.text, "from another machine over plain http it would not: the page says so"


def test_a_login_opens_the_console_with_a_private_cookie_and_a_logout_closes_it(
    tmp_path: Path, service: IngestProcess
) -> None:
    password = accounts(tmp_path).add("ida", Role.VIEWER)
    ida = Console(service.http_url, "ida", password)
    answer = ida.login()
    assert (answer.status, answer.headers["Location"]) == (303, "/")
    cookie = next(v for v in answer.set_cookies if v.startswith("suitcase_session="))
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    home = ida.get("/")
    assert home.status == 200
    assert "ida (viewer)" in home.text
    assert home.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in home.headers["Content-Security-Policy"]
    assert home.headers["Cache-Control"] == "no-store"
    assert ida.get("/api/devices").status == 200
    assert ida.get("/metrics").status == 200

    assert ida.post("/logout", {}).status == 403, "a logout without the session's CSRF token is refused"
    assert ida.post("/logout", {"csrf": "forged"}).status == 403
    assert ida.get("/").status == 200, "and the session lives on"
    out = ida.post("/logout", {"csrf": form_csrf(home.text)})
    assert (out.status, out.headers["Location"]) == (303, "/login")
    for path in ("/", "/api/devices", "/api/rejects", "/metrics"):
        assert ida.get(path).status in (303, 401), f"{path} is closed after the logout"
    assert "console login account=ida role=viewer" in service.log()
    assert "console logout account=ida" in service.log()


def test_wrong_passwords_are_refused_then_throttled_and_logged(tmp_path: Path, service: IngestProcess) -> None:
    password = accounts(tmp_path).add("bo", Role.VIEWER)
    for _attempt in range(5):
        answer = Console(service.http_url, "bo", "not-the-password").login()
        assert answer.status == 401
        assert "Wrong name or password." in answer.text
        assert "suitcase_session" not in answer.cookies
    held = Console(service.http_url, "bo", password).login()
    assert held.status == 429, "after five failures even the right password waits"
    assert int(held.headers["Retry-After"]) > 800
    assert "Too many failed logins" in held.text
    assert service.log().count("console login failed account=bo") == 5
    assert "console login refused: too many failures account=bo" in service.log()
    assert password not in service.log()


def test_the_login_form_needs_its_own_csrf_token_and_goes_only_to_local_pages(
    tmp_path: Path, service: IngestProcess
) -> None:
    password = accounts(tmp_path).add("cy", Role.VIEWER)
    forged = request(f"{service.http_url}/login", data={"name": "cy", "password": password, "csrf": "x"})
    assert forged.status == 400, "a login posted from another site (no login cookie) is refused"
    assert "suitcase_session" not in forged.cookies
    page = request(f"{service.http_url}/login?next=//evil.example/")
    answer = request(
        f"{service.http_url}/login",
        data={"name": "cy", "password": password, "csrf": form_csrf(page.text), "next": "//evil.example/"},
        headers={"Cookie": f"suitcase_login={page.cookies['suitcase_login']}"},
    )
    assert (answer.status, answer.headers["Location"]) == (303, "/")


def test_roles_hold_and_an_admin_manages_accounts_in_the_browser_forms(tmp_path: Path, service: IngestProcess) -> None:
    viewer = console(service.http_url, tmp_path / "accounts.sqlite3", Role.VIEWER)
    operator = console(service.http_url, tmp_path / "accounts.sqlite3", Role.OPERATOR)
    admin = console(service.http_url, tmp_path / "accounts.sqlite3", Role.ADMIN)
    assert viewer.get("/accounts").status == 403
    assert operator.get("/accounts").status == 403
    for path in ("/add-device", "/import"):
        assert viewer.get(path).status == 403, f"a viewer sees, an operator adds: {path}"
        assert operator.get(path).status == 200
    added = viewer.post("/add-device", {"id": "x-1", "model": "native", "site": "s", "csrf": viewer.csrf()})
    assert added.status == 403
    refused = operator.post(
        "/add-device", {"id": "bad id", "model": "native", "site": "Big Site", "csrf": operator.csrf()}
    )
    assert refused.status == 400, "the registry's checks, as the CLI's"
    assert 'value="bad id"' in refused.text, "what was typed is kept"
    assert "Big Site" in refused.text.split('id="problems"', 1)[1], "every problem is named"
    assert viewer.post("/accounts", {"name": "mallory", "role": "admin", "csrf": viewer.csrf()}).status == 403
    assert accounts(tmp_path).get("mallory") is None

    page = admin.get("/accounts")
    assert page.status == 200
    assert viewer.name in page.text
    made = admin.post("/accounts", {"name": "dora", "role": "operator", "csrf": form_csrf(page.text)})
    assert made.status == 200
    shown = made.text.split('id="new-password">', 1)[1].split("<", 1)[0]
    assert accounts(tmp_path).verify("dora", shown) is not None, "the password shown once is the account's"
    assert shown not in admin.get("/accounts").text, "and it is shown only once"
    assert admin.post("/accounts", {"name": "dora", "role": "viewer"}).status == 403, "no CSRF token, no change"
    bad = admin.post("/accounts", {"name": "<b>x</b>", "role": "viewer", "csrf": admin.csrf()})
    assert bad.status == 400
    assert "<b>x</b>" not in bad.text, "what was typed comes back escaped"
    gone = admin.post(f"/accounts/{viewer.name}/remove", {"csrf": admin.csrf()})
    assert gone.status == 303
    assert viewer.get("/").status == 303, "a removed account's session ends at once"
    own = admin.post(f"/accounts/{admin.name}/remove", {"csrf": admin.csrf()})
    assert own.status == 400


def test_metrics_take_the_bearer_token(service: IngestProcess) -> None:
    url = f"{service.http_url}/metrics"
    answer = request(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status == 200
    assert b"suitcase_messages_received" in answer.body
    assert request(url, headers={"Authorization": "Bearer wrong"}).status == 401
    assert request(url, headers={"Authorization": METRICS_TOKEN}).status == 401


def test_the_console_speaks_the_browsers_language_until_the_account_chooses(
    tmp_path: Path, service: IngestProcess
) -> None:
    danish = {"Accept-Language": "da-DK,da;q=0.9,en;q=0.8"}
    login = request(f"{service.http_url}/login", headers=danish)
    assert '<html lang="da">' in login.text
    assert "Adgangskode" in login.text
    assert "Log ind" in login.text
    assert "Password" in request(f"{service.http_url}/login", headers={"Accept-Language": "sv, en;q=0.5"}).text
    ida = console(service.http_url, tmp_path / "accounts.sqlite3")
    home = ida.get("/", headers=danish)
    assert "Log ud" in home.text
    assert "(læser)" in home.text, "the role in Danish too"
    chosen = ida.post("/language", {"language": "en", "csrf": form_csrf(home.text), "back": "/accounts"})
    assert (chosen.status, chosen.headers["Location"]) == (303, "/accounts")
    assert "Log out" in ida.get("/", headers=danish).text, "the account's choice wins over the browser's"
    assert ida.post("/language", {"language": "xx", "csrf": form_csrf(home.text)}).status == 400
    ida.post("/language", {"language": "", "csrf": form_csrf(home.text), "back": "//evil.example/"})
    assert "Log ud" in ida.get("/", headers=danish).text, "empty: the browser's language again"


def test_a_form_larger_than_the_console_takes_is_refused_and_the_service_goes_on(
    tmp_path: Path, service: IngestProcess
) -> None:
    operator = console(service.http_url, tmp_path / "accounts.sqlite3", Role.OPERATOR)
    huge = operator.post("/import", {"csrf": operator.csrf(), "text": "x" * (9 << 20)})
    assert huge.status == 413
    assert request(f"{service.http_url}/healthz").status == 200
    rows = "".join(f"kit-{n:05d},native,site-{n % 40}\n" for n in range(4000))  # some 100 KB
    sheet = operator.post("/import", {"csrf": operator.csrf(), "text": "id,model,site\n" + rows})
    assert sheet.status == 200, "a sheet over the HTTP ingestion limit (64 KiB) but within the console's is read"
    assert "Imported 4000 devices" in sheet.text
