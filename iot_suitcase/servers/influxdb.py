"""A real InfluxDB 1.6 on private loopback ports, plus the few HTTP calls tests and ops need.

The HTTP helpers use only urllib on purpose: they check what landed in the database independently
of the influxdb-client code paths the application itself uses.
"""

from __future__ import annotations

import json
import shutil
import string
import urllib.error
import urllib.parse
from importlib import resources
from pathlib import Path
from typing import Any

from iot_suitcase.servers.processes import ManagedProcess, free_port, http_request


class QueryError(RuntimeError):
    """InfluxDB answered a query or write with an error."""


def quote_ident(name: str) -> str:
    """Quote an InfluxQL identifier (database, measurement) so any name is safe in a statement."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InfluxDB(ManagedProcess):
    """`influxd -config <data_dir>/influxdb.conf`, rendered from the influxdb.conf template.

    The HTTP port is fixed at construction (clients find a restarted server at the same URL); the
    RPC port, which nothing here uses, is picked afresh at every start so a stale choice cannot block it.
    """

    name = "influxdb"
    http_timeout = 30.0

    def __init__(self, data_dir: Path, *, port: int | None = None, host: str = "127.0.0.1", auth: bool = False) -> None:
        """``auth``: check users and passwords (then the first user must be an admin, made without one)."""
        super().__init__(data_dir, host=host, port=port)
        self.rpc_port: int | None = None
        self.auth = auth

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "influxdb.conf"

    def command(self) -> list[str]:
        self.rpc_port = free_port(self.host)
        template = resources.files("iot_suitcase.servers").joinpath("influxdb.conf").read_text()
        self.config_path.write_text(
            string.Template(template).substitute(
                host=self.host,
                port=self.port,
                rpc_port=self.rpc_port,
                data_dir=self.data_dir,
                auth="true" if self.auth else "false",
            )
        )
        return [shutil.which("influxd") or "/usr/bin/influxd", "-config", str(self.config_path)]

    def is_ready(self) -> bool:
        try:
            return http_request(f"{self.url}/ping", timeout=1)[0] == 204
        except OSError:
            return False

    def query(
        self, q: str, db: str | None = None, *, epoch: str = "ns", auth: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """Run InfluxQL (POST, so CREATE/DROP work too), as the user ``auth`` names where passwords are checked;
        return the parsed JSON, raise QueryError on errors."""
        params = {"q": q, "epoch": epoch}
        if db is not None:
            params["db"] = db
        credentials = {} if auth is None else {"u": auth[0], "p": auth[1]}  # InfluxDB reads them from the URL
        body = self._post("/query", urllib.parse.urlencode(params).encode(), credentials)
        result: dict[str, Any] = json.loads(body)
        errors = [result["error"]] if "error" in result else []
        errors += [r["error"] for r in result.get("results", []) if "error" in r]
        if errors:
            raise QueryError(f"{q!r}: {'; '.join(errors)}")
        return result

    def write(self, db: str, lines: str | list[str], *, precision: str = "ns") -> None:
        """Write line protocol through the 1.x /write endpoint (for tests that need data in place)."""
        text = lines if isinstance(lines, str) else "\n".join(lines)
        self._post("/write", text.encode(), {"db": db, "precision": precision})

    def create_database(self, name: str) -> None:
        self.query(f"CREATE DATABASE {quote_ident(name)}")

    def drop_database(self, name: str) -> None:
        self.query(f"DROP DATABASE {quote_ident(name)}")

    def databases(self) -> list[str]:
        return [row["name"] for row in self._rows(self.query("SHOW DATABASES"))]

    def measurements(self, db: str) -> list[str]:
        return [row["name"] for row in self._rows(self.query("SHOW MEASUREMENTS", db))]

    def points(self, db: str, measurement: str) -> list[dict[str, Any]]:
        """All rows of a measurement as dicts (tags and fields by name, `time` as epoch ns int)."""
        statement = f"SELECT * FROM {quote_ident(measurement)}"  # noqa: S608 - the identifier is quoted
        return self._rows(self.query(statement, db))

    def count(self, db: str, measurement: str | None = None, *, bookkeeping: bool = False) -> int:
        """Exact number of points in one measurement, or of all readings in the database.

        Without a measurement, the platform's own ``suitcase_*`` bookkeeping measurements (uplinks, rejects,
        pipeline figures) are left out unless ``bookkeeping`` is set: what is counted is sensor readings.

        Counts rows rather than using COUNT(*), which counts per field and so misses points whose
        fields differ; loading the rows is fine at test scale.
        """
        names = (
            [measurement]
            if measurement is not None
            else [m for m in self.measurements(db) if bookkeeping or not m.startswith("suitcase_")]
        )
        return sum(len(self.points(db, name)) for name in names)

    @staticmethod
    def _rows(result: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            dict(zip(series["columns"], values, strict=True))
            for statement in result.get("results", [])
            for series in statement.get("series", [])
            for values in series.get("values", [])
        ]

    def _post(self, path: str, data: bytes, params: dict[str, str]) -> bytes:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            return http_request(f"{self.url}{path}{query}", data, timeout=self.http_timeout)[1]
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise QueryError(f"POST {path} -> HTTP {exc.code}: {detail}") from exc
