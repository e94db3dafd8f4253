"""The status page and its API, health checks and metrics, served by the ingest process (aiohttp).

- ``sections()``: the status page's content for the console (``/``): devices (last seen, late/silent against
  their interval, latest values, battery, RSSI), unknown devices knocking, the latest rejects with reason and
  raw payload, and the pipeline's figures.
- ``/api/devices``, ``/api/rejects``: the same as JSON. ``/healthz``: alive. ``/readyz``: broker connected,
  InfluxDB accepting writes, log below its bound (503 with the reasons otherwise). ``/metrics``: Prometheus.
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.ingest.intake.directory import DeviceDirectory
from iot_suitcase.ingest.operations.figures import FigureSource
from iot_suitcase.ingest.operations.metrics import PipelineCollector, RefusalCollector
from iot_suitcase.ingest.operations.status import StatusBoard
from iot_suitcase.ingest.sink.rejects import RejectStore, StoredReject
from iot_suitcase.ingest.sources.refusals import RefusedRequests

_REJECTS_SHOWN = 25
_REJECTS_LISTED = 1000
_QUERY_VALUE_CHARS = 200


def _bad_request(reason: str) -> web.HTTPBadRequest:
    body = json.dumps({"error": "bad_request", "reason": reason})
    return web.HTTPBadRequest(text=body, content_type="application/json")


@dataclass
class Rate:
    """Readings stored per second, over the last sampling interval."""

    readings: int = 0
    at: float = 0.0
    per_second: float = 0.0

    def sample(self, readings: int) -> None:
        now = time.monotonic()
        if self.at:
            self.per_second = (readings - self.readings) / max(now - self.at, 1e-6)
        self.readings, self.at = readings, now


class StatusPages:
    def __init__(
        self,
        pipeline: FigureSource,
        board: StatusBoard,
        directory: DeviceDirectory,
        rejects: RejectStore,
        connected: Callable[[], bool],
        *,
        failure: Callable[[], str | None] = lambda: None,
        refusals: RefusedRequests | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._failure = failure
        self._directory = directory
        self._rejects = rejects
        self._board = board
        self._connected = connected
        self.rate = Rate()
        self._metrics = CollectorRegistry(auto_describe=True)
        self._metrics.register(PipelineCollector(pipeline, connected))
        self._refusals = refusals or RefusedRequests()
        self._metrics.register(RefusalCollector(self._refusals))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/devices", self.api_devices)
        app.router.add_get("/api/rejects", self.api_rejects)
        app.router.add_get("/api/refused", self.api_refused)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)

    async def run_sampler(self) -> None:
        while True:
            self.rate.sample(self._pipeline.figures().stored_readings)
            await asyncio.sleep(5)

    # --- data ---------------------------------------------------------------------------------------------
    def pipeline_figures(self) -> dict[str, object]:
        s = self._pipeline.figures()
        return {
            "received": s.received,
            "acked": s.acked,
            "stored_readings": s.stored_readings,
            "stored_per_second": round(self.rate.per_second, 1),
            "rejected": sum(s.rejected.values()),
            "rejects_kept": sum(self._rejects.counts().values()),  # since the store began: survives restarts
            "duplicates": s.duplicates,
            "possible_duplicates": s.possible_duplicates,
            "backlog_records": s.backlog_records,
            "backlog_bytes": s.backlog_bytes,
            "held": s.held,
            "influx_reachable": s.influx_ok,
            "log_full": s.log_full,
            "log_writable": s.log_error is None,
            "mqtt_connected": self._connected(),
        }

    def problems(self) -> list[str]:
        """Why the service is not ready, in words; empty when it is."""
        s = self._pipeline.figures()
        problems = []
        failure = self._failure()
        if failure is not None:
            problems.append(f"the service is stopping after an internal failure: {failure}")
        if not self._connected():
            problems.append("not connected to the MQTT broker")
        if not s.influx_ok:
            problems.append("InfluxDB does not accept writes")
        if s.log_error is not None:
            problems.append(
                f"the write-ahead log cannot be written ({s.log_error}): not acknowledging, the broker keeps the "
                "messages until the disk takes writes again"
            )
        if s.log_full:
            problems.append("the write-ahead log is at its bound")
        if s.store_error is not None:
            problems.append(f"the service cannot note what InfluxDB has stored ({s.store_error})")
        return problems

    async def _latest_rejects(
        self, limit: int, device: str | None = None, reason: str | None = None
    ) -> list[StoredReject]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self._rejects.list(device=device, code=reason, limit=limit))

    # --- JSON ---------------------------------------------------------------------------------------------
    async def api_devices(self, _request: web.Request) -> web.Response:
        board = self._board
        return web.json_response(
            {
                "devices": board.devices(self._directory.registry),
                "unknown_devices": board.strangers(),
                "unknown_device_messages": board.unknown_messages,
                "unknown_devices_not_listed": board.strangers_forgotten,
                "pipeline": self.pipeline_figures(),
            }
        )

    async def api_rejects(self, request: web.Request) -> web.Response:
        query = request.query
        limit = query.get("limit", "100")
        if not limit.isdecimal() or not 1 <= int(limit) <= _REJECTS_LISTED:
            raise _bad_request(f"limit must be a whole number from 1 to {_REJECTS_LISTED}")
        for name in ("device", "reason"):
            if len(query.get(name, "")) > _QUERY_VALUE_CHARS:
                raise _bad_request(f"{name} is longer than {_QUERY_VALUE_CHARS} characters")
        found = await self._latest_rejects(int(limit), query.get("device"), query.get("reason"))
        return web.json_response(
            {
                "rejects": [
                    {
                        "received_at": r.received_at.isoformat(),
                        "device": r.device_id,
                        "reason": r.code,
                        "detail": r.reason,
                        "topic": r.topic,
                        "payload": r.payload.decode("utf-8", "replace"),
                    }
                    for r in found
                ],
                "counts": self._rejects.counts(),
            }
        )

    async def api_refused(self, _request: web.Request) -> web.Response:
        """HTTP requests the service refused: counts per status and the newest samples."""
        return web.json_response(
            {
                "counts": {str(status): count for status, count in sorted(self._refusals.counts.items())},
                "latest": [
                    {
                        "at": datetime.fromtimestamp(r.at, UTC).isoformat(),
                        "status": r.status,
                        "device": r.device,
                        "path": r.path,
                        "remote": r.remote,
                        "what_to_do": r.what_to_do,
                    }
                    for r in self._refusals.latest()
                ],
            }
        )

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def readyz(self, _request: web.Request) -> web.Response:
        problems = self.problems()
        return web.json_response({"ready": not problems, "problems": problems}, status=503 if problems else 200)

    async def metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self._metrics)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    # --- HTML ---------------------------------------------------------------------------------------------
    async def sections(self) -> str:
        """The status page's sections as HTML, every value escaped; the console frames them (``/``)."""
        board = self._board
        devices = board.devices(self._directory.registry)
        rejects = await self._latest_rejects(_REJECTS_SHOWN)
        return "".join(
            [
                _problems_section(self.problems(), self._pipeline.figures().log_damage),
                _pipeline_section(self.pipeline_figures()),
                _devices_section(devices),
                _strangers_section(board.strangers()),
                _refusals_section(self._refusals),
                _rejects_section(rejects),
            ]
        )


def _e(value: object) -> str:
    return html.escape(str(value))


def _pipeline_section(figures: dict[str, object]) -> str:
    labels = {
        "stored_per_second": "readings stored / s",
        "stored_readings": "readings stored",
        "received": "messages",
        "rejected": "rejected since start",
        "rejects_kept": "rejects kept (all time)",
        "backlog_records": "log backlog",
        "influx_reachable": "InfluxDB reachable",
        "mqtt_connected": "broker connected",
        "log_full": "log full",
        "log_writable": "log writable",
    }
    good_when = {"influx_reachable": True, "mqtt_connected": True, "log_full": False, "log_writable": True}
    cells = []
    for key, label in labels.items():
        value = figures[key]
        if isinstance(value, bool):  # a state: say it in words, red when it needs attention
            shown = f'<b class="{"ok" if value == good_when.get(key) else "silent"}">{"yes" if value else "no"}</b>'
        else:
            shown = f"<b>{_e(value)}</b>"
        cells.append(f'<div class="figure" id="fig-{key}">{_e(label)}{shown}</div>')
    return f'<h2>Pipeline</h2><div class="figures">{"".join(cells)}</div>'


def _problems_section(problems: list[str], damage: list[str]) -> str:
    items = [f'<li class="silent">{_e(problem)}</li>' for problem in problems]
    items += [f'<li class="late">write-ahead log damage found at start-up: {_e(found)}</li>' for found in damage]
    return f'<h2>Problems</h2><ul id="problems">{"".join(items)}</ul>' if items else ""


def _ago(moment: object) -> str:
    if not isinstance(moment, str):
        return "never"
    seconds = max(0, int((datetime.now(UTC) - datetime.fromisoformat(moment)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def _value(latest: dict[str, dict[str, object]], quantity: str) -> str:
    """A latest value as the catalog says to show it: its decimals, its unit (``1003.8 hPa``)."""
    reading = latest.get(quantity)
    if reading is None:
        return ""
    found = load_catalog().quantities.get(quantity)
    value = reading["value"]
    if found is not None and isinstance(value, float):
        value = f"{value:.{found.decimals}f}"
    return f"{_e(value)} {_e(reading['unit'])}"


def _label(quantity: str) -> str:
    found = load_catalog().quantities.get(quantity)
    return found.label() if found is not None else quantity


def _devices_section(devices: list[dict[str, object]]) -> str:
    rows = []
    for d in devices:
        latest: dict[str, dict[str, object]] = d["latest"]  # type: ignore[assignment]
        values = ", ".join(
            f'<span title="{_e(q)}">{_e(_label(q))}</span> {_value(latest, q)}'
            for q in latest
            if q not in ("battery", "battery_voltage", "rssi", "snr")
        )
        battery = _value(latest, "battery") or _value(latest, "battery_voltage")
        rejected: dict[str, str] | None = d["last_reject"]  # type: ignore[assignment]
        why = f'<br><span class="silent">rejected: {_e(rejected["reason"])}</span>' if rejected else ""
        rows.append(
            f'<tr id="device-{_e(d["id"])}"><td>{_e(d["id"])}</td><td>{_e(d["site"] or "-")}</td>'
            f'<td>{_e(d["model"] or "-")}</td><td title="{_e(d["last_seen"] or "")}">{_ago(d["last_seen"])}</td>'
            f'<td class="{_e(d["state"])}">{_e(d["state"])}{why}</td><td>{values}</td><td>{battery}</td>'
            f"<td>{_value(latest, 'rssi')}</td></tr>"
        )
    return (
        "<h2>Devices</h2><table><tr><th>device</th><th>site</th><th>model</th><th>last seen</th><th>state</th>"
        f"<th>latest values</th><th>battery</th><th>RSSI</th></tr>{''.join(rows)}</table>"
    )


def _strangers_section(strangers: list[dict[str, object]]) -> str:
    if not strangers:
        return "<h2>Unknown devices knocking</h2><p>none</p>"
    rows = "".join(
        f"<tr><td>{_e(s['id'])}</td><td><code>{_e(s['topic'])}</code></td>"
        f'<td title="{_e(s["last_seen"])}">{_ago(s["last_seen"])}</td>'
        f"<td>{_e(s['messages'])}</td></tr>"
        for s in strangers
    )
    return (
        "<h2>Unknown devices knocking</h2><p>Not in the registry: add them with "
        "<code>suitcase devices add ID --model ... --site ...</code></p>"
        f"<table><tr><th>device</th><th>topic</th><th>last seen</th><th>messages</th></tr>{rows}</table>"
    )


def _refusals_section(refusals: RefusedRequests) -> str:
    if not refusals.counts:
        return "<h2>HTTP requests refused</h2><p>none</p>"
    counts = ", ".join(f"{status}: {count}" for status, count in sorted(refusals.counts.items()))
    rows = "".join(
        f'<tr class="refused"><td title="{_e(datetime.fromtimestamp(r.at, UTC).isoformat())}">'
        f"{_ago(datetime.fromtimestamp(r.at, UTC).isoformat())}</td><td>{_e(r.device)}</td>"
        f"<td><b>{r.status}</b><br>{_e(r.what_to_do)}</td><td><code>{_e(r.path)}</code></td><td>{_e(r.remote)}</td></tr>"
        for r in refusals.latest()[:_REJECTS_SHOWN]
    )
    return (
        f"<h2>HTTP requests refused</h2><p>Counted since the service started: {_e(counts)}. The newest:</p>"
        "<table><tr><th>when</th><th>device</th><th>status, what to do</th><th>path</th><th>from</th></tr>"
        f"{rows}</table>"
    )


def _rejects_section(rejects: list[StoredReject]) -> str:
    rows = "".join(
        f'<tr class="reject"><td title="{_e(r.received_at.isoformat())}">{_ago(r.received_at.isoformat())}</td>'
        f"<td>{_e(r.device_id or '-')}</td>"
        f"<td><b>{_e(r.code)}</b><br>{_e(r.reason)}</td><td><code>{_e(r.topic)}</code></td>"
        f"<td><code>{_e(r.payload[:300].decode('utf-8', 'replace'))}</code></td></tr>"
        for r in rejects
    )
    return (
        "<h2>Latest rejects</h2><table><tr><th>received</th><th>device</th><th>reason</th><th>topic</th>"
        f"<th>payload</th></tr>{rows}</table>"
    )
