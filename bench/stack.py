"""What every scenario runs on: a fresh Mosquitto and InfluxDB, ingest workers, publisher processes.

The ingest service runs exactly as in production, ``python -m iot_suitcase ingest`` configured by SUITCASE_*
variables, in a process of its own that the benchmark can pause (SIGSTOP) and resume (SIGCONT).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from bench.fleet import Shard
from iot_suitcase.servers import InfluxDB, Mosquitto

DATABASE = "bench"
_REPO = Path(__file__).resolve().parent.parent
# A paused worker sends no PINGREQ; with the default 30 s the broker would drop it after 45 s of publishing
# (no loss, but a reconnect and redeliveries inside the measurement). Nothing else differs from production.
KEEPALIVE_S = 900


class BenchError(RuntimeError):
    """A scenario could not run as designed (a process failed, a deadline passed)."""


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition()`` until true; BenchError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Stack:
    """A fresh Mosquitto (the project's config: persistent sessions, unbounded queues) and InfluxDB 1.x."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.broker = Mosquitto(directory / "mosquitto")
        self.influx = InfluxDB(directory / "influxdb")

    def __enter__(self) -> Self:
        self.broker.start()
        try:
            self.influx.start()
            self.influx.create_database(DATABASE)
        except BaseException:
            self.broker.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.influx.stop()
        self.broker.stop()


class IngestWorker:
    """``python -m iot_suitcase ingest`` with its own client id, data dir and log; run from its own directory so
    no ``.env`` of the caller's working tree leaks into its settings."""

    def __init__(
        self,
        directory: Path,
        stack: Stack,
        *,
        client_id: str,
        share_group: str | None = None,
        console: bool = False,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.log_path = directory / "ingest.log"
        defaults = {
            "mqtt_host": stack.broker.host,
            "mqtt_port": str(stack.broker.port),
            "mqtt_client_id": client_id,
            "mqtt_keepalive_s": str(KEEPALIVE_S),
            "influx_url": stack.influx.url,
            "influx_database": DATABASE,
            "data_dir": str(directory / "data"),
            "registry_file": str(directory / "registry.yaml"),
            "credentials_file": str(directory / "credentials.yaml"),
            "unknown_devices": "accept",
            "http_enabled": "true" if console else "false",  # the console is measured on its own
            "http_port": "0",
            "accounts_file": str(directory / "accounts.sqlite3"),
        }
        if share_group:
            defaults["mqtt_share_group"] = share_group
        settings = defaults | (settings or {})  # a scenario's own, e.g. another tenant's topic root and database
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("SUITCASE_")}
        self.env = {**inherited, **{f"SUITCASE_{key.upper()}": value for key, value in settings.items()}}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise BenchError("the ingest worker is not running")
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def http_url(self) -> str:
        found = re.findall(r"http server listening host=(\S+) port=(\d+)", self.log())
        if not found:
            raise BenchError("the ingest worker serves no HTTP")
        return f"http://{found[-1][0]}:{found[-1][1]}"

    def start(self) -> Self:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "iot_suitcase", "ingest"],
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=log,
            )
        proc = self.proc
        try:
            wait_for(lambda: "connected to broker" in self.log() or proc.poll() is not None, 60, "ingest to connect")
        except BenchError:
            self.kill()
            raise
        if proc.poll() is not None:
            raise BenchError(f"ingest exited with {proc.returncode}; its log:\n{self.log()[-3000:]}")
        return self

    def pause(self) -> None:
        """SIGSTOP to the service and every process it started (a supervisor's workers)."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def _signal(self, number: signal.Signals) -> None:
        for pid in family(self.pid):
            with contextlib.suppress(ProcessLookupError):  # a worker that ended a moment ago
                os.kill(pid, number)

    def stop(self, timeout: float = 60.0) -> dict[str, int]:
        """SIGTERM (the service flushes, acks and says goodbye); return its final status figures."""
        if self.proc is None:
            return {}
        if self.proc.poll() is None:
            self.resume()  # a stopped process would not see SIGTERM until continued
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return final_status(self.log())

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def family(pid: int) -> list[int]:
    """A process and all its descendants (a supervisor and its workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def final_status(log: str) -> dict[str, int]:
    """The integer figures of the service's last status line (``received=… acked=… …``)."""
    lines = [line for line in log.splitlines() if " stopped received=" in line or " status received=" in line]
    if not lines:
        return {}
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)(?=\s|$)", lines[-1])}


@dataclass(frozen=True, slots=True)
class GroupResult:
    """All publishers of a group: messages the broker acknowledged, and when the first started and the last
    finished (time.monotonic(), which is system-wide on Linux)."""

    sent: int
    acked: int
    started: float
    finished: float

    @property
    def rate(self) -> float:
        return self.acked / max(self.finished - self.started, 1e-9)


class PublisherGroup:
    """One ``bench.publisher`` process per shard, started together once every one has encoded its messages."""

    def __init__(self, broker: Mosquitto, shards: list[Shard], directory: Path, name: str, *, window: int) -> None:
        self._procs: list[subprocess.Popen[str]] = []
        self._log: IO[bytes] = (directory / f"{name}.log").open("ab")
        for number, shard in enumerate(shards):
            argv = [
                sys.executable, "-m", "bench.publisher",
                "--host", broker.host, "--port", str(broker.port), "--client-id", f"{name}-{number}",
                "--first", str(shard.first), "--devices", str(shard.devices),
                "--per-device", str(shard.per_device), "--base-ms", str(shard.base_ms), "--window", str(window),
                "--form", shard.form,
            ]  # fmt: skip
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, env=with_repo()
            )
            self._procs.append(proc)

    def ready(self) -> Self:
        for proc in self._procs:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            if line != "ready":
                self.close()
                raise BenchError(f"a publisher did not get ready (said {line!r}); see {self._log.name}")
        return self

    def go(self) -> float:
        """Start every publisher; return the moment they were told to."""
        started = time.monotonic()
        for proc in self._procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        return started

    def wait(self, timeout: float = 900.0) -> GroupResult:
        """Until every publisher has had every message acknowledged by the broker."""
        results = []
        for proc in self._procs:
            try:
                out, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.close()
                raise BenchError("a publisher did not finish in time") from None
            if proc.returncode != 0 or not out.strip():
                raise BenchError(f"a publisher failed (exit {proc.returncode}); see {self._log.name}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        self._log.close()
        return GroupResult(
            sent=sum(r["sent"] for r in results),
            acked=sum(r["acked"] for r in results),
            started=min(r["started"] for r in results),
            finished=max(r["finished"] for r in results),
        )

    def close(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self._log.close()


def with_repo() -> dict[str, str]:
    """The environment with this checkout importable (``bench`` is not an installed package)."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{_REPO}{os.pathsep}{path}" if path else str(_REPO)}


def publish(broker: Mosquitto, shards: list[Shard], directory: Path, name: str, *, window: int) -> GroupResult:
    """Encode, connect, publish every shard at once, wait for every PUBACK."""
    group = PublisherGroup(broker, shards, directory, name, window=window).ready()
    group.go()
    return group.wait()


def server_pid(pid: int | None) -> int:
    """A server's pid, for sampling it; BenchError if it is not running."""
    if pid is None:
        raise BenchError("a server of the stack is not running")
    return pid


def json_result(proc: subprocess.Popen[str], what: str, timeout: float = 120.0) -> dict[str, Any]:
    """The last line a helper process (bench.flood, bench.queryload) printed, as JSON, once it has ended."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} did not finish in time") from None
    if proc.returncode != 0 or not out.strip():
        raise BenchError(f"{what} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result
