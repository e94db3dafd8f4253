"""`suitcase ingest --workers N|auto`: N ingest services on one shared MQTT subscription, each with its own
session and write-ahead log, started, watched and restarted by this supervisor (a plain process: no event loop,
no broker connection of its own).

Worker 0 is the service one process would be: the configured client id, data dir (a log written before keeps
draining), HTTP port with the console and HTTP ingestion, and the broker's log. Worker n > 0 gets client id
``<id>.<n>``, data dir ``<data dir>/workers/<n>``, worker 0's rejects store, and HTTP on a loopback port of its
own, which only worker 0 asks (with a token made at each start): for its readiness, metrics and device states,
which worker 0's ``/readyz``, ``/metrics`` and console report with its own. A worker that dies is logged with
how it ended and started again with the same id and data dir: its broker session gives back what it had not
acknowledged, its log what InfluxDB has not stored. ``workers.json`` in the data dir records how many ran.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from enum import Enum
from types import FrameType

from pydantic import SecretStr

from iot_suitcase.devices.settings import ENV_PREFIX, INGEST_CLIENT_PREFIX
from iot_suitcase.ingest.config import IngestSettings

log = logging.getLogger(__name__)

DEFAULT_SHARE_GROUP = "suitcase-ingest"
CONFIGURATION_ERROR = 2  # the service's exit code for "fix it first" (a registry or decoders file that does not load)
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
STEADY_S = 60.0  # a worker that ran this long starts its backoff afresh when it dies
CLIENT_ID_MAX = len(INGEST_CLIENT_PREFIX) + 40  # IngestSettings.mqtt_client_id's pattern
WORKERS_FILE = "workers.json"  # how many workers this data dir ran


def worker_count(workers: int | str) -> int:
    """``auto``: the cores this process may run on."""
    if workers == "auto":
        return max(1, len(os.sched_getaffinity(0)))
    return int(workers)


def workers_to_start(settings: IngestSettings) -> int:
    """The workers asked for, but never fewer than this data dir ran before: the broker keeps queueing each
    worker's share of the messages for its session, and its log keeps what InfluxDB lacks, until it comes back.
    A worker left out would hold them for good, so none is left out; retiring one is not built yet."""
    if settings.worker_index is not None:  # a worker of a supervisor: never one itself
        return 1
    asked = worker_count(settings.workers)
    try:
        ran = int(json.loads((settings.data_dir / WORKERS_FILE).read_text())["workers"])
    except (OSError, ValueError, KeyError, TypeError):
        return asked
    if ran > asked:
        log.warning(
            "this data dir ran more workers before; starting as many, so none of their sessions and logs is "
            "left holding messages asked=%d starting=%d",
            asked,
            ran,
        )
    return max(asked, ran)


def as_environment(settings: IngestSettings) -> dict[str, str]:
    """Every setting as the SUITCASE_* variable a worker reads it from (flags included), secrets in clear: the
    environment of a child process is readable only by its own user, unlike its command line."""
    environment = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, Enum):
            text = str(value.value)
        elif isinstance(value, list | dict | tuple):
            text = json.dumps(value)
        else:
            text = str(value)
        environment[f"{ENV_PREFIX}{name.upper()}"] = text
    return environment


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Worker:
    index: int
    environment: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff_s: float = FIRST_BACKOFF_S
    restart_at: float = 0.0
    restarts: int = 0


def plan_workers(settings: IngestSettings, count: int) -> list[Worker]:
    """Each worker's settings: the supervisor's own, with a place of its own for what must not be shared."""
    base = as_environment(settings) | {
        f"{ENV_PREFIX}WORKERS": "1",
        f"{ENV_PREFIX}MQTT_SHARE_GROUP": settings.mqtt_share_group or DEFAULT_SHARE_GROUP,
    }
    base[f"{ENV_PREFIX}WORKER_TOKEN"] = secrets.token_urlsafe(32)  # made for this run, never shown
    # with HTTP off (as in the benchmark) no worker serves it, and worker 0 has nobody to ask
    peers = [free_loopback_port() if settings.http_enabled else 0 for _ in range(1, count)]
    workers = [
        Worker(
            0,
            base
            | {
                f"{ENV_PREFIX}WORKER_INDEX": "0",
                f"{ENV_PREFIX}WORKER_PEERS": json.dumps([f"http://127.0.0.1:{port}" for port in peers if port]),
            },
        )
    ]
    for index, port in enumerate(peers, start=1):
        suffix = f".{index}"
        own = {
            "WORKER_INDEX": str(index),
            "WORKER_PEERS": "[]",
            "MQTT_CLIENT_ID": settings.mqtt_client_id[: CLIENT_ID_MAX - len(suffix)] + suffix,
            "DATA_DIR": str(settings.data_dir / "workers" / str(index)),
            "REJECTS_FILE": str(settings.rejects_path),  # one store: the console lists every worker's rejects
            "HTTP_HOST": "127.0.0.1",  # its readiness and metrics, for worker 0
            "HTTP_PORT": str(port),
        }
        environment = base | {f"{ENV_PREFIX}{name}": value for name, value in own.items()}
        for shown_by_worker_0 in ("BROKER_LOG_FILE", "HTTP_TLS_CERT", "HTTP_TLS_KEY"):
            environment.pop(f"{ENV_PREFIX}{shown_by_worker_0}", None)
        workers.append(Worker(index, environment))
    return workers


class Supervisor:
    """Starts the workers, restarts one that dies (with a growing pause while it keeps dying), and on SIGTERM
    or SIGINT passes the signal on and waits for every worker's clean stop."""

    def __init__(self, settings: IngestSettings, count: int) -> None:
        self._settings = settings
        self._workers = plan_workers(settings, count)
        self._stopping = False
        self._exit_code = 0

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        log.info(
            "supervising workers=%d share_group=%s",
            len(self._workers),
            self._workers[0].environment[f"{ENV_PREFIX}MQTT_SHARE_GROUP"],
        )
        record = self._settings.data_dir / WORKERS_FILE
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps({"workers": len(self._workers)}) + "\n")
        for worker in self._workers:
            self._start(worker)
        while not self._stopping:
            for worker in self._workers:
                self._watch(worker)
            time.sleep(0.2)
        self._stop_all()
        log.info("supervisor stopped")
        return self._exit_code

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("stopping workers signal=%s", signal.Signals(signum).name)
        self._stopping = True

    def _start(self, worker: Worker) -> None:
        worker.process = subprocess.Popen(
            [sys.executable, "-m", "iot_suitcase", "ingest"],
            env={k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)} | worker.environment,
        )
        worker.started_at = time.monotonic()
        http = worker.environment.get(f"{ENV_PREFIX}HTTP_PORT", "-") if worker.index else "configured"
        log.info(
            "worker started worker=%d pid=%d restarts=%d http_port=%s",
            worker.index,
            worker.process.pid,
            worker.restarts,
            http,
        )

    def _watch(self, worker: Worker) -> None:
        process = worker.process
        if process is None:
            if time.monotonic() >= worker.restart_at:
                worker.restarts += 1
                self._start(worker)
            return
        code = process.poll()
        if code is None:
            return
        ran_s = time.monotonic() - worker.started_at
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        if code == CONFIGURATION_ERROR and worker.restarts == 0 and ran_s < STEADY_S:
            log.error("worker could not start: its settings need fixing; stopping all worker=%d", worker.index)
            self._exit_code = CONFIGURATION_ERROR
            self._stopping = True
            worker.process = None
            return
        if ran_s >= STEADY_S:
            worker.backoff_s = FIRST_BACKOFF_S
        log.error(
            "worker ended; starting it again worker=%d pid=%d how=%s ran_s=%.1f restart_in_s=%.1f",
            worker.index,
            process.pid,
            how,
            ran_s,
            worker.backoff_s,
        )
        worker.process = None
        worker.restart_at = time.monotonic() + worker.backoff_s
        worker.backoff_s = min(worker.backoff_s * 2, MAX_BACKOFF_S)

    def _stop_all(self) -> None:
        running = [w.process for w in self._workers if w.process is not None and w.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._settings.shutdown_timeout_s + 5
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker did not stop in time; killed pid=%d", process.pid)
                process.kill()
                process.wait()
