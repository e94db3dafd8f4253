"""Least privilege on InfluxDB 1.x (#17 point 5): `suitcase influx grant` makes the ingest service's user, which
may only write, and the read user (Grafana, the console's charts), which may only read; the service runs with
both and no admin. On a real InfluxDB with passwords checked."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.console import console
from tests.helpers import IngestProcess, publish_all, unique, wait_until


def call(url: str, user: str, password: str, path: str, params: dict[str, str], body: bytes) -> tuple[int, str]:
    """An HTTP call to InfluxDB as ``user`` (none when empty): (status, body)."""
    request = urllib.request.Request(f"{url}{path}?{urllib.parse.urlencode(params)}", data=body, method="POST")
    if user:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def query(url: str, user: str, password: str, statement: str) -> tuple[int, str]:
    return call(url, user, password, "/query", {"db": "city"}, urllib.parse.urlencode({"q": statement}).encode())


def write(url: str, user: str, password: str, line: str) -> int:
    return call(url, user, password, "/write", {"db": "city"}, line.encode())[0]


def test_the_write_user_only_writes_and_the_read_user_only_reads(
    tmp_path: Path, influxdb_factory: Callable[..., InfluxDB], mosquitto: Mosquitto
) -> None:
    server = influxdb_factory(auth=True)
    admin_password = os.urandom(12).hex()
    first = f"CREATE USER admin WITH PASSWORD '{admin_password}' WITH ALL PRIVILEGES"
    assert query(server.url, "", "", first)[0] == 200, "the first user, an admin, needs no password"

    def suitcase(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "iot_suitcase", *args]
        return subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=60, env={**os.environ, **env}, check=False
        )

    assert suitcase("init").returncode == 0
    with (tmp_path / ".env").open("a") as env_file:
        env_file.write(f"SUITCASE_INFLUX_URL={server.url}\nSUITCASE_INFLUX_DATABASE=city\n")
    granted = suitcase("influx", "grant", SUITCASE_INFLUX_ADMIN_PASSWORD=admin_password)
    assert granted.returncode == 0, granted.stderr
    assert "suitcase-writer: WRITE on city only" in granted.stdout
    assert admin_password not in granted.stdout + granted.stderr
    again = suitcase("influx", "grant", SUITCASE_INFLUX_ADMIN_PASSWORD=admin_password)
    assert again.returncode == 0, "again: the same users, the same grants"
    wrong = suitcase("influx", "grant", SUITCASE_INFLUX_ADMIN_PASSWORD=os.urandom(8).hex())
    assert wrong.returncode == 1

    env = dict(
        line.split("=", 1)
        for line in (tmp_path / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    writer = (env["SUITCASE_INFLUX_USERNAME"], env["SUITCASE_INFLUX_PASSWORD"])
    reader = (env["SUITCASE_INFLUX_READ_USERNAME"], env["SUITCASE_INFLUX_READ_PASSWORD"])
    assert write(server.url, *writer, "probe value=1") == 204
    assert write(server.url, *reader, "probe value=2") == 403, "the reader cannot write"
    assert query(server.url, *writer, "SELECT * FROM probe")[0] == 403, "the writer cannot read"
    assert "value" in query(server.url, *reader, "SELECT * FROM probe")[1]
    for user in (writer, reader):
        for statement in ("DROP MEASUREMENT probe", "DROP DATABASE city", "CREATE DATABASE other", "SHOW USERS"):
            status, body = query(server.url, *user, statement)
            assert status == 403, f"{user[0]}: {statement}: {body}"

    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "kit-1", "model": "native", "kind": "climate", "site": "dokk1"}))
    ingest = IngestProcess(
        tmp_path / "ingest.log",
        {
            "mqtt_host": mosquitto.host,
            "mqtt_port": str(mosquitto.port),
            "mqtt_client_id": unique("suitcase-ingest-"),
            "influx_url": server.url,
            "influx_database": "city",
            "influx_username": writer[0],
            "influx_password": writer[1],
            "influx_read_username": reader[0],
            "influx_read_password": reader[1],
            "registry_file": str(tmp_path / "registry.yaml"),
            "batch_interval_s": "0.05",
        },
    ).start()
    try:
        publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-1/up", b'{"readings": {"temperature": 21.5}}')])
        wait_until(
            lambda: "21.5" in query(server.url, *reader, "SELECT * FROM temperature")[1],
            20,
            "the reading, written as the write user",
        )
        page = console(ingest.http_url, tmp_path / "accounts.sqlite3").get("/devices/kit-1").text
        assert '<svg class="spark"' in page, "the chart, read back as the read user"
    finally:
        ingest.terminate()
    assert "could not create database" in ingest.log(), "the write user may not; the grant command made it"


@pytest.mark.parametrize("missing", ["SUITCASE_INFLUX_READ_USERNAME"])
def test_grant_needs_both_users(tmp_path: Path, missing: str) -> None:
    (tmp_path / ".env").write_text("SUITCASE_INFLUX_USERNAME=w\nSUITCASE_INFLUX_PASSWORD=x\n")
    done = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "influx", "grant"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert missing in done.stderr
