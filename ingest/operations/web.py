"""What the service knows of itself and its devices, as JSON, health checks and metrics (aiohttp); the console
(``ingest/console``) shows the same to staff.

- ``/api/devices``, ``/api/rejects``: the same as JSON. ``/healthz``: alive. ``/readyz``: broker connected,
  InfluxDB accepting writes, log below its bound (503 with the reasons otherwise). ``/metrics``: Prometheus.
  Worker 0 of several reports the others' readiness, metrics and devices with its own (``operations/peers.py``).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from iot_suitcase.devices.registry import Registry
from iot_suitcase.ingest.intake.directory import DeviceDirectory
from iot_suitcase.ingest.operations.figures import FigureSource
from iot_suitcase.ingest.operations.metrics import (
    BrokerRefusalCollector,
    Labelled,
    PipelineCollector,
    RefusalCollector,
)
from iot_suitcase.ingest.operations.peers import BOARD_PATH, Peers, merged_families
from iot_suitcase.ingest.operations.status import BoardView, StatusBoard, merged
from iot_suitcase.ingest.sink.rejects import RejectStore, StoredReject
from iot_suitcase.ingest.sources.brokerlog import BrokerRefusals
from iot_suitcase.ingest.sources.refusals import RefusedRequests

_REJECTS_LISTED = 1000
_QUERY_VALUE_CHARS = 200


def _bad_request(reason: str) -> web.HTTPBadRequest:
    body = json.dumps({"error": "bad_request", "reason": reason})
    return web.HTTPBadRequest(text=body, content_type="application/json")


# Why the service is not ready, by code: the one text of each, which /readyz shows and the console translates.
PROBLEMS = {
    "failed": "the service is stopping after an internal failure",
    "broker": "not connected to the MQTT broker",
    "influxdb": "InfluxDB does not accept writes",
    "log_unwritable": "the write-ahead log cannot be written: not acknowledging, the broker keeps the messages "
    "until the disk takes writes again",
    "log_full": "the write-ahead log is at its bound",
    "store": "the service cannot note what InfluxDB has stored",
    "worker": "another worker of this service is not ready: its share of the messages waits at the broker",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the service is not ready."""

    code: str
    detail: str = ""  # what the system said (an error text), as it said it

    @property
    def message(self) -> str:
        return PROBLEMS[self.code]

    @property
    def text(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


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
        broker_refusals: BrokerRefusals | None = None,
        throttled_s: Callable[[], float] = lambda: 0.0,
        metric_labels: dict[str, str] | None = None,
        peers: Peers | None = None,
    ) -> None:
        self._peers = peers
        self._pipeline = pipeline
        self._failure = failure
        self._directory = directory
        self._rejects = rejects
        self._board = board
        self._connected = connected
        self.rate = Rate()
        self._refusals = refusals or RefusedRequests()
        self.broker_refusals = broker_refusals or BrokerRefusals()
        self._metrics = CollectorRegistry(auto_describe=True)
        for collector in (
            PipelineCollector(pipeline, connected, throttled_s),
            RefusalCollector(self._refusals),
            BrokerRefusalCollector(self.broker_refusals),
        ):
            self._metrics.register(Labelled(collector, metric_labels) if metric_labels else collector)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/devices", self.api_devices)
        app.router.add_get("/api/rejects", self.api_rejects)
        app.router.add_get("/api/refused", self.api_refused)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get(BOARD_PATH, self.internal_board)  # for worker 0 of several; the worker token only

    async def run_sampler(self) -> None:
        while True:
            self.rate.sample(self._pipeline.figures().stored_readings)
            await asyncio.sleep(5)

    # --- data ---------------------------------------------------------------------------------------------
    @property
    def board(self) -> StatusBoard:
        return self._board

    @property
    def registry(self) -> Registry:
        return self._directory.registry

    @property
    def refusals(self) -> RefusedRequests:
        return self._refusals

    def waiting(self) -> tuple[dict[str, int], set[str]]:
        """Registered devices with messages kept from before they were registered, and those being taken in."""
        registry = self.registry
        waiting = {device: n for device, n in self._rejects.waiting().items() if device in registry}
        return waiting, set(self._rejects.take_in_requests())

    def ask_to_take_in(self, device: str) -> None:
        self._rejects.ask_to_take_in(device, time.time())

    def log_damage(self) -> list[str]:
        return self._pipeline.figures().log_damage

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
        """Why the service is not ready, in words (``/readyz``); empty when it is."""
        return [problem.text for problem in self.problem_list()]

    def problem_list(self) -> list[Problem]:
        """Why the service is not ready: a code the console says in the viewer's language, and the detail."""
        s = self._pipeline.figures()
        problems = []
        failure = self._failure()
        if failure is not None:
            problems.append(Problem("failed", failure))
        if not self._connected():
            problems.append(Problem("broker"))
        if not s.influx_ok:
            problems.append(Problem("influxdb"))
        if s.log_error is not None:
            problems.append(Problem("log_unwritable", s.log_error))
        if s.log_full:
            problems.append(Problem("log_full"))
        if s.store_error is not None:
            problems.append(Problem("store", s.store_error))
        if self._peers:
            problems += [Problem("worker", f"worker {index}: {why}") for index, why in self._peers.problems()]
        return problems

    async def latest_rejects(
        self, limit: int, device: str | None = None, reason: str | None = None
    ) -> list[StoredReject]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: self._rejects.list(device=device, code=reason, limit=limit))

    def own_view(self) -> BoardView:
        return self._board.view(self._directory.registry, self.pipeline_figures())

    async def view(self) -> BoardView:
        """The devices and figures as the status page shows them: of every worker, when this is worker 0."""
        own = self.own_view()
        if not self._peers:
            return own
        return merged([own, *await self._peers.board_views()])

    async def device(self, device_id: str) -> dict[str, object] | None:
        """One device's row as ``view`` has it; of this board alone, without building every row, when this
        is the only worker."""
        if not self._peers:
            return self._board.device(self._directory.registry, device_id)
        return (await self.view()).device(device_id)

    # --- JSON ---------------------------------------------------------------------------------------------
    async def api_devices(self, _request: web.Request) -> web.Response:
        return web.json_response((await self.view()).as_json())

    async def internal_board(self, _request: web.Request) -> web.Response:
        return web.json_response(self.own_view().as_json())

    async def api_rejects(self, request: web.Request) -> web.Response:
        query = request.query
        limit = query.get("limit", "100")
        if not limit.isdecimal() or not 1 <= int(limit) <= _REJECTS_LISTED:
            raise _bad_request(f"limit must be a whole number from 1 to {_REJECTS_LISTED}")
        for name in ("device", "reason"):
            if len(query.get(name, "")) > _QUERY_VALUE_CHARS:
                raise _bad_request(f"{name} is longer than {_QUERY_VALUE_CHARS} characters")
        found = await self.latest_rejects(int(limit), query.get("device"), query.get("reason"))
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
                "broker": {
                    "counts": dict(self.broker_refusals.counts),
                    "latest": [
                        {
                            "at": datetime.fromtimestamp(r.at, UTC).isoformat(),
                            "kind": r.kind,
                            "client": r.client,
                            "topic": r.topic,
                            "address": r.address,
                            "what_to_do": r.what_to_do,
                        }
                        for r in self.broker_refusals.latest()
                    ],
                },
            }
        )

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def readyz(self, _request: web.Request) -> web.Response:
        problems = self.problems()
        return web.json_response({"ready": not problems, "problems": problems}, status=503 if problems else 200)

    async def metrics(self, _request: web.Request) -> web.Response:
        if self._peers:
            families = [*self._metrics.collect(), *await self._peers.metric_families()]
            body = generate_latest(_Exposition(list(merged_families(families))))
        else:
            body = generate_latest(self._metrics)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@dataclass(frozen=True, slots=True)
class _Exposition:
    """Families already collected, in the shape ``generate_latest`` reads."""

    families: list[Metric]

    def collect(self) -> Iterable[Metric]:
        return self.families
