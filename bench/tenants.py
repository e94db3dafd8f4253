"""Issue #18's flood test: does one tenant's flood slow another tenant down?

Two tenants' ingest services share one broker and one InfluxDB, as on a shared installation: the *quiet* tenant
(the benchmark's usual topic root and database) and the *flooding* one (its own topic root and database, and
``SUITCASE_MQTT_RATE_PER_S``, its quota). The quiet tenant's devices send at a steady rate and its publish ->
queryable latency is measured as in the latency scenario, in runs of three kinds, each on a fresh stack:

- ``alone``: the flooding tenant's service runs, its devices are silent: the quiet tenant's single-tenant figure;
- ``flood``: the flooding tenant's devices send 10x its quota for the whole run (a process of their own);
- ``flood-no-quota``: the same flood with no quota, to show what the quota buys.

``alone`` and ``flood`` alternate for several rounds: the spread of the ``alone`` runs' p99s is the benchmark's
noise, and the target is met when the ``flood`` runs' median p99 is within that of the ``alone`` runs' median.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.latency import PacedPublisher, VisibilityPoller, latency_figures, p99_comparison
from bench.observe import ProcessSampler, count
from bench.stack import DATABASE, BenchError, IngestWorker, Stack, json_result, server_pid, with_repo

FLOOD_ROOT = "suitcase@flood"  # a tenant's topic root, as `suitcase tenants add flood` makes it
FLOOD_DATABASE = "suitcase_flood"
FLOOD_FACTOR = 10


@dataclass(frozen=True, slots=True)
class FloodPlan:
    """The sizes of the flood test."""

    rate: float  # the quiet tenant's messages per second
    seconds: float
    quota: float  # the flooding tenant's messages per second
    rounds: int
    devices: int
    poll_s: float
    base_ms: int  # device time of the flood's first messages

    def runs(self) -> list[tuple[str, int]]:
        """(kind, round) in the order they run: alone and flood alternating, then the flood with no quota."""
        order = [(kind, number) for number in range(1, self.rounds + 1) for kind in ("alone", "flood")]
        return [*order, ("flood-no-quota", 1)]


def run(plan: FloodPlan, workdir: Path, probe: Callable[[Stack], None], say: Callable[[str], None]) -> dict[str, Any]:
    runs = []
    for kind, number in plan.runs():
        say(f"tenants: {kind} run {number}: the quiet tenant at {plan.rate:,.0f} msg/s for {plan.seconds:g} s")
        runs.append(_one_run(plan, kind, number, workdir / f"{kind}-{number}", probe))
    return {
        "quiet_rate": plan.rate,
        "seconds": plan.seconds,
        "quota": plan.quota,
        "flood_rate": plan.quota * FLOOD_FACTOR,
        "rounds": plan.rounds,
        "poll_interval_ms": plan.poll_s * 1000,
        "runs": runs,
        "summary": summary(runs),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The medians of the quiet tenant's p99 alone and under the flood, the noise (the alone runs' spread)."""
    unbounded = [r["latency_ms"].get("p99", float("inf")) for r in runs if r["kind"] == "flood-no-quota"]
    return {**p99_comparison(runs, "alone", "flood"), "flood_no_quota_p99_ms": round(statistics.median(unbounded), 1)}


def _one_run(
    plan: FloodPlan, kind: str, number: int, directory: Path, probe: Callable[[Stack], None]
) -> dict[str, Any]:
    messages = round(plan.rate * plan.seconds)
    flood_rate = 0.0 if kind == "alone" else plan.quota * FLOOD_FACTOR
    flooding_settings = {"topic_root": FLOOD_ROOT, "influx_database": FLOOD_DATABASE}
    if kind != "flood-no-quota":
        flooding_settings["mqtt_rate_per_s"] = str(plan.quota)
    with Stack(directory) as stack:
        quiet = IngestWorker(directory / "quiet", stack, client_id="suitcase-ingest-bench-quiet")
        flooding = IngestWorker(
            directory / "flooding", stack, client_id="suitcase-ingest-bench-flooding", settings=flooding_settings
        )
        flood: subprocess.Popen[str] | None = None
        try:
            quiet.start()
            flooding.start()
            probe(stack)
            sampler = ProcessSampler(
                {"quiet": quiet.pid, "flooding": flooding.pid, "mosquitto": server_pid(stack.broker.pid)}
                | {"influxdb": server_pid(stack.influx.pid)}
            )
            sampler.start()
            publisher = PacedPublisher(
                stack.broker.host, stack.broker.port, devices=plan.devices, rate=plan.rate, count=messages
            )
            poller = VisibilityPoller(stack.influx, DATABASE, publisher.published, interval=plan.poll_s)
            poller.start()
            began = sampler.sample_now()
            if flood_rate:
                flood = _start_flood(stack, plan, flood_rate, round(flood_rate * plan.seconds))
            publisher.start()
            publisher.join()
            ended = sampler.sample_now()
            flood_result = json_result(flood, "the flood publisher") if flood else {"sent": 0, "acked": 0, "rate": 0}
            flooding_stored = count(stack.influx, FLOOD_DATABASE, "temperature")
            poller.finish(timeout=60)
            sampler.stop()
            if publisher.error is not None or publisher.result is None:
                raise BenchError(f"the paced publisher failed: {publisher.error!r}")
            stored = count(stack.influx, DATABASE, "temperature")
        finally:
            if flood is not None and flood.poll() is None:
                flood.kill()
                flood.wait()
            quiet.stop()
            flooding.stop()
    seconds = max(ended - began, 1e-9)
    return {
        "kind": kind,
        "round": number,
        "messages": messages,
        "rate_achieved": round(
            publisher.result.acked / max(publisher.result.finished - publisher.result.started, 1e-9)
        ),
        "stored": stored,
        "loss": messages - stored,
        **latency_figures(publisher.published, poller.first_seen),
        "flood": flood_result,
        "flooding_tenant_stored_during_run": flooding_stored,
        "flooding_tenant_slowed": "intake over its quota" in flooding.log(),
        "cpu_share": {name: round(sampler.cpu_between(name, began, ended) / seconds, 2) for name in sampler.pids},
    }


def _start_flood(stack: Stack, plan: FloodPlan, rate: float, messages: int) -> subprocess.Popen[str]:
    argv = [
        sys.executable, "-m", "bench.flood", "--host", stack.broker.host, "--port", str(stack.broker.port),
        "--root", FLOOD_ROOT, "--devices", str(plan.devices), "--rate", str(rate), "--count", str(messages),
        "--base-ms", str(plan.base_ms),
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=with_repo())
