"""`suitcase influx grant`: on InfluxDB 1.x, the users the services run with, each with no more than it needs.

- the ingest service's user (``SUITCASE_INFLUX_USERNAME``): WRITE on the database, nothing else;
- the read user (``SUITCASE_INFLUX_READ_USERNAME``): READ on the database, for Grafana and the console's charts.

Neither can drop a measurement or a database, make users or read another database; the admin's password is
used for this command only and held by no service. InfluxDB 1.x lets a user with WRITE also ``DELETE``
points (it asks WRITE for that statement): the write user could delete readings, though not drop them.
The compose stack needs no such command: its InfluxDB 1.x image makes the same two users at its first start.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from iot_suitcase.devices.settings import InfluxSettings
from iot_suitcase.servers.influxdb import quote_ident

ADMIN_ENV = "SUITCASE_INFLUX_ADMIN_PASSWORD"  # the variable the admin's password comes in, never as a flag


class GrantError(RuntimeError):
    """InfluxDB refused a statement."""


def quote_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Influx:
    """InfluxQL statements over HTTP as one user (or none)."""

    def __init__(self, url: str, user: str | None, password: str | None) -> None:
        self._url = url.rstrip("/")
        self._auth = None if user is None else base64.b64encode(f"{user}:{password or ''}".encode()).decode()

    def run(self, statement: str) -> list[dict[str, object]]:
        request = urllib.request.Request(  # noqa: S310 (the configured InfluxDB's http(s) URL)
            f"{self._url}/query", data=urllib.parse.urlencode({"q": statement}).encode(), method="POST"
        )
        if self._auth is not None:
            request.add_header("Authorization", f"Basic {self._auth}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (the configured InfluxDB)
                result = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            raise GrantError(
                f"{statement.split(' WITH PASSWORD', maxsplit=1)[0]}: HTTP {error.code} {error.read()[:200]!r}"
            ) from None
        failed = [r["error"] for r in result.get("results", []) if "error" in r]
        if failed:
            raise GrantError(f"{statement.split(' WITH PASSWORD', maxsplit=1)[0]}: {'; '.join(failed)}")
        rows: list[dict[str, object]] = []
        for item in result.get("results", []):
            for series in item.get("series", []):
                rows += [dict(zip(series["columns"], values, strict=True)) for values in series.get("values", [])]
        return rows


def grant(influx: Influx, settings: InfluxSettings) -> list[str]:
    """Make (or set again) the write and read users with exactly their grants; what was done, in words."""
    if not settings.influx_username or not settings.influx_read_username:
        raise GrantError("set SUITCASE_INFLUX_USERNAME and SUITCASE_INFLUX_READ_USERNAME (`suitcase init` does)")
    database = settings.influx_database
    existing = {str(row["user"]) for row in influx.run("SHOW USERS")}
    influx.run(f"CREATE DATABASE {quote_ident(database)}")
    done = [f"database {database}"]
    for user, password, privilege in (
        (settings.influx_username, settings.influx_password, "WRITE"),
        (settings.influx_read_username, settings.influx_read_password, "READ"),
    ):
        if password is None:
            raise GrantError(f"{user} has no password in the settings")
        secret = quote_string(password.get_secret_value())
        if user in existing:
            influx.run(f"SET PASSWORD FOR {quote_ident(user)} = {secret}")
            influx.run(f"REVOKE ALL PRIVILEGES FROM {quote_ident(user)}")  # admin, if someone gave it
            for row in influx.run(f"SHOW GRANTS FOR {quote_ident(user)}"):
                influx.run(f"REVOKE ALL ON {quote_ident(str(row['database']))} FROM {quote_ident(user)}")
        else:
            influx.run(f"CREATE USER {quote_ident(user)} WITH PASSWORD {secret}")
        influx.run(f"GRANT {privilege} ON {quote_ident(database)} TO {quote_ident(user)}")
        done.append(f"{user}: {privilege} on {database} only")
    return done


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "influx",
        help="InfluxDB 1.x: the services' users with least privilege",
        description="`grant` makes the ingest service's user (WRITE on the database) and the read user (READ, for "
        "Grafana and the console) with the passwords of .env, using an admin whose password is given in "
        f"{ADMIN_ENV} (never as a flag) and held by no service.",
    )
    sub = parser.add_subparsers(dest="influx_command", required=True, metavar="COMMAND")
    grant_parser = sub.add_parser("grant", help="make the write and read users and their grants")
    grant_parser.add_argument("--admin-user", default="admin", help="an InfluxDB admin (default admin)")
    grant_parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = InfluxSettings()
    influx = Influx(settings.influx_url, args.admin_user, os.environ.get(ADMIN_ENV))
    try:
        for line in grant(influx, settings):
            print(line)
        anonymous = Influx(settings.influx_url, None, None)
        try:
            anonymous.run("SHOW USERS")
        except GrantError:
            return 0
        print(
            "warning: this InfluxDB does not check passwords (auth-enabled = false in its [http] section): "
            "the users exist, but anyone reaching it may do anything",
            file=sys.stderr,
        )
        return 0
    except (GrantError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
