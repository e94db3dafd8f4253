"""Issue #15's figure: the console's first screen with 5,000 registered devices in under 1 s on this machine.

A real ingest service with its console, the registry of a starter-kit CSV of ``devices`` devices, one
message from each (so every row has values to format), and a logged-in staff member's browser request for
``/``, timed from request to the last byte, ``repeats`` times; the same for a search and for the last page.
"""

from __future__ import annotations

import http.client
import re
import statistics
import time
import urllib.parse
from pathlib import Path
from typing import Any

from bench.mqtt import Publisher, publish_packet
from bench.observe import count
from bench.registry_import import write_csv
from bench.stack import DATABASE, IngestWorker, Stack, wait_for
from iot_suitcase.devices.registry import RegistryFile
from iot_suitcase.devices.registry.importer import import_csv
from iot_suitcase.ingest.console.accounts import Accounts, Role


def _request(base_url: str, method: str, path: str, headers: dict[str, str], body: str | None = None) -> Any:
    """One request on a connection of its own, without following redirects (http.client)."""
    address = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _login(base_url: str, name: str, password: str) -> str:
    """The session cookie of a login made as a browser makes it (form, CSRF cookie and field)."""
    _status, headers, body = _request(base_url, "GET", "/login", {"Accept": "text/html"})
    found = re.search(r'name="csrf" value="([^"]+)"', body.decode())
    if found is None:
        raise RuntimeError("the login page has no form")
    token = found.group(1)
    form = urllib.parse.urlencode({"name": name, "password": password, "csrf": token})
    content = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": headers["Set-Cookie"].split(";")[0]}
    _status, headers, _body = _request(base_url, "POST", "/login", content, form)
    cookies: list[str] = headers.get_all("Set-Cookie") or []
    return next(c.split(";", 1)[0] for c in cookies if c.startswith("suitcase_session="))


def _timed(base_url: str, path: str, cookie: str, repeats: int) -> dict[str, Any]:
    seconds, size = [], 0
    for _ in range(repeats):
        started = time.perf_counter()
        status, _headers, body = _request(base_url, "GET", path, {"Accept": "text/html", "Cookie": cookie})
        seconds.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        size = len(body)
    return {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3), "bytes": size}


def run(directory: Path, devices: int, repeats: int) -> dict[str, Any]:
    with Stack(directory) as stack:
        worker_dir = directory / "ingest"
        worker_dir.mkdir(parents=True, exist_ok=True)
        csv_path = directory / "devices.csv"
        write_csv(csv_path, devices)
        with RegistryFile(worker_dir / "registry.yaml").edit() as registry:
            added = import_csv(registry, csv_path, progress=False)
        native = [device.id for device in added if device.model == "native"]
        worker = IngestWorker(worker_dir, stack, client_id="suitcase-ingest-bench-console", console=True).start()
        try:
            client = Publisher(stack.broker.host, stack.broker.port, "bench-console")
            packets = [
                publish_packet(f"suitcase/{device}/up".encode(), n, b'{"readings":{"temperature":21.5,"battery":80}}')
                for n, device in enumerate(native)
            ]
            client.publish_all(packets)
            client.close()
            wait_for(lambda: count(stack.influx, DATABASE, "temperature") >= len(native), 120, "one reading a device")
            password = Accounts(worker_dir / "accounts.sqlite3").add("bench", Role.VIEWER)
            base = worker.http_url
            cookie = _login(base, "bench", password)
            figures = {
                "devices": devices,
                "with_values": len(native),
                "repeats": repeats,
                "first_screen": _timed(base, "/", cookie, repeats),
                "search": _timed(base, "/?q=kit-0499", cookie, repeats),
                "last_page": _timed(base, "/?page=1000", cookie, repeats),
            }
        finally:
            worker.stop()
    return figures
