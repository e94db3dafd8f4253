"""Issue #19's load test: does a query flood on the public side (SensorThings, downloads, the catalogue) slow
ingestion? One ingest service and, in a process of its own as in production, the open-data server (`suitcase
opendata serve`), 1,000 registered devices published; a steady stream of readings whose publish -> queryable
latency is measured as in the latency scenario; in alternate runs a separate process floods the public side
with ``clients`` threads asking as fast as they are answered (the per-client rate limit set high, as if from as
many addresses as it takes). Target: the flood runs' median p99 within the noise (the spread of the quiet runs'
p99s)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fleet import device_id
from bench.latency import PacedPublisher, VisibilityPoller, latency_figures, p99_comparison
from bench.observe import ProcessSampler, count
from bench.stack import DATABASE, BenchError, IngestWorker, Stack, json_result, server_pid, wait_for, with_repo
from iot_suitcase.devices.registry import RegistryFile, make_spec

SITE = "bench"


@dataclass(frozen=True, slots=True)
class LoadPlan:
    rate: float  # readings per second while the public side is asked
    seconds: float
    rounds: int
    clients: int  # threads of the query flood
    devices: int
    poll_s: float

    def runs(self) -> list[tuple[str, int]]:
        return [(kind, number) for number in range(1, self.rounds + 1) for kind in ("quiet", "queried")]


def run(plan: LoadPlan, workdir: Path, probe: Callable[[Stack], None], say: Callable[[str], None]) -> dict[str, Any]:
    runs = []
    for kind, number in plan.runs():
        say(f"opendata: {kind} run {number}: {plan.rate:,.0f} msg/s for {plan.seconds:g} s")
        runs.append(_one_run(plan, kind, number, workdir / f"{kind}-{number}", probe))
    return {
        "rate": plan.rate,
        "seconds": plan.seconds,
        "clients": plan.clients,
        "rounds": plan.rounds,
        "runs": runs,
        "summary": p99_comparison(runs, "quiet", "queried"),
    }


def _prepare(directory: Path, devices: int) -> dict[str, str]:
    """The service's registry (every device of the fleet, published by its site) and open-data file."""
    directory.mkdir(parents=True, exist_ok=True)
    with RegistryFile(directory / "registry.yaml").edit() as registry:
        registry.add_all([make_spec({"id": device_id(n), "model": "native", "kind": "climate", "site": SITE})
                          for n in range(devices)])  # fmt: skip
    (directory / "opendata.toml").write_text(
        f'licence = "CC-BY-4.0"\nattribution = "bench"\npublish = [{{ site = "{SITE}" }}]\n'
    )
    return {"registry_file": str(directory / "registry.yaml")}


class OpenDataServer:
    """`suitcase opendata serve` for the worker's registry and the stack's InfluxDB, as in production: a process
    of its own (the per-client limit set high, as if the flood came from many addresses)."""

    def __init__(self, directory: Path, stack: Stack) -> None:
        settings = {
            "SUITCASE_REGISTRY_FILE": str(directory / "registry.yaml"),
            "SUITCASE_OPENDATA_FILE": str(directory / "opendata.toml"),
            "SUITCASE_INFLUX_URL": stack.influx.url,
            "SUITCASE_INFLUX_DATABASE": DATABASE,
            "SUITCASE_OPENDATA_PORT": "0",
            "SUITCASE_OPENDATA_RATE_PER_S": "100000",
        }
        self.log_path = directory / "opendata.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SUITCASE_")} | settings
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "iot_suitcase", "opendata", "serve"],
                env=environment, cwd=directory, stdout=log, stderr=log,
            )  # fmt: skip
        wait_for(lambda: "open data listening" in self.log() or self.proc.poll() is not None, 30, "the server")
        if self.proc.poll() is not None:
            raise BenchError(f"the open-data server exited: {self.log()[-2000:]}")
        host, port = re.findall(r"open data listening host=(\S+) port=(\d+)", self.log())[-1]
        self.url = f"http://{host}:{port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def _one_run(plan: LoadPlan, kind: str, number: int, directory: Path, probe: Callable[[Stack], None]) -> dict[str, Any]:
    messages = round(plan.rate * plan.seconds)
    settings = _prepare(directory / "worker", plan.devices)
    with Stack(directory) as stack:
        worker = IngestWorker(
            directory / "worker", stack, client_id="suitcase-ingest-bench-opendata", settings=settings
        )
        server = OpenDataServer(directory / "worker", stack)
        load: subprocess.Popen[str] | None = None
        try:
            worker.start()
            probe(stack)
            pids = {"ingest": worker.pid, "opendata": server.proc.pid, "influxdb": server_pid(stack.influx.pid)}
            sampler = ProcessSampler(pids)
            sampler.start()
            publisher = PacedPublisher(
                stack.broker.host, stack.broker.port, devices=plan.devices, rate=plan.rate, count=messages
            )
            poller = VisibilityPoller(stack.influx, DATABASE, publisher.published, interval=plan.poll_s)
            poller.start()
            began = sampler.sample_now()
            if kind == "queried":
                argv = [sys.executable, "-m", "bench.queryload", "--base", server.url, "--clients",
                        str(plan.clients), "--seconds", str(plan.seconds), "--devices", str(plan.devices)]  # fmt: skip
                # niced as the server is: on a real server the flood's clients are elsewhere, and what is measured
                # is what answering them costs ingestion, not what asking costs (reported: client_cpu_share)
                load = subprocess.Popen(
                    argv,
                    stdout=subprocess.PIPE,
                    text=True,
                    env=with_repo(),
                    preexec_fn=lambda: os.nice(19),  # noqa: PLW1509
                )
            publisher.start()
            publisher.join()
            ended = sampler.sample_now()
            queries = json_result(load, "the query load") if load else {"requests": 0, "statuses": {}, "median_ms": 0}
            poller.finish(timeout=60)
            sampler.stop()
            if publisher.error is not None or publisher.result is None:
                raise BenchError(f"the paced publisher failed: {publisher.error!r}")
            stored = count(stack.influx, DATABASE, "temperature")
        finally:
            if load is not None and load.poll() is None:
                load.kill()
                load.wait()
            worker.stop()
            server.stop()
    seconds = max(ended - began, 1e-9)
    return {
        "kind": kind,
        "round": number,
        "messages": messages,
        "stored": stored,
        "loss": messages - stored,
        **latency_figures(publisher.published, poller.first_seen),
        "queries": queries,
        "cpu_share": {name: round(sampler.cpu_between(name, began, ended) / seconds, 2) for name in sampler.pids},
    }
