"""The scenarios of issue #9. Each runs on its own fresh Mosquitto and InfluxDB (no queue, session or
compaction left over from the one before), with the ingest service in processes of its own."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import console, hotpath, opendata, peers, raw, registry_import, tenants
from bench.fleet import MEASUREMENTS, TOPIC_ROOT, Shard, shards
from bench.latency import PacedPublisher, VisibilityPoller, latency_figures, percentiles
from bench.mqtt import Publisher, publish_packet
from bench.observe import Completion, ProcessSampler, count, thread_cpu, wait_until_stored
from bench.pyspy import Profiler, summarise
from bench.stack import (
    DATABASE,
    BenchError,
    IngestWorker,
    PublisherGroup,
    Stack,
    family,
    publish,
    server_pid,
    wait_for,
)

SCENARIOS = (
    "raw",
    "drain",
    "live",
    "latency",
    "scaleout",
    "memory",
    "registry",
    "console",
    "tenants",
    "opendata",
    "hotpath",
)
OPTIONAL = ("peers",)  # only when asked for (`--peers`): it installs Node-RED from the npm registry
PEERS_REFERENCE = Path(__file__).resolve().parent.parent.parent / "shared" / "peers" / "nodered"
SHARE_GROUP = "bench"
PROBE_QUANTITY = "co2"  # probes go to a measurement of their own, so they never count as load


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much each scenario sends; the defaults are issue #9's, ``smoke()`` a quick check of the harness."""

    devices: int = 1000
    drain_messages: int = 200_000
    live_messages: int = 200_000
    latency_rate: float = 2000.0
    latency_seconds: float = 60.0
    latency_poll_s: float = 0.05
    memory_messages: int = 1_000_000
    memory_workers: str = "1"  # "auto" or a number: `suitcase ingest --workers` drains, supervised
    scaleout_messages: int = 200_000
    scaleout_workers: tuple[int, ...] = (1, 2, 3)
    raw_messages: int = 200_000
    registry_devices: int = 1000
    registry_repeats: int = 5
    console_devices: int = 5000
    console_repeats: int = 10
    publishers: int = 2
    window: int = 10_000
    tenants_rate: float = 500.0  # the quiet tenant's msg/s while another floods
    tenants_quota: float = 200.0  # the flooding tenant's quota; it floods at 10x
    tenants_seconds: float = 30.0
    tenants_rounds: int = 3
    opendata_rate: float = 1000.0  # readings per second while the public side is flooded
    opendata_seconds: float = 30.0
    opendata_rounds: int = 2
    opendata_clients: int = 8  # threads of the query flood
    peers_messages: int = 100_000  # issue #20's side-by-side run
    peers_rounds: int = 3
    hotpath_messages: int = 20_000  # issue #20's hand-written parts beside what they replace, in process
    hotpath_rounds: int = 7

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(
            devices=100,
            drain_messages=3000,
            live_messages=3000,
            latency_seconds=2.0,
            memory_messages=5000,
            scaleout_messages=3000,
            raw_messages=3000,
            registry_repeats=1,
            console_devices=200,
            console_repeats=2,
            tenants_seconds=2.0,
            tenants_rounds=1,
            opendata_seconds=2.0,
            opendata_rounds=1,
            peers_messages=5000,
            peers_rounds=1,
            hotpath_messages=2000,
            hotpath_rounds=2,
        )

    def with_overrides(self, **changes: Any) -> Sizes:
        return replace(self, **{key: value for key, value in changes.items() if value is not None})

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Bench:
    """Runs scenarios in ``workdir`` (one subdirectory each) and returns their figures as JSON-ready dicts."""

    def __init__(
        self,
        sizes: Sizes,
        workdir: Path,
        *,
        say: Callable[[str], None],
        profile: str | None = None,
        profile_dir: Path | None = None,
    ) -> None:
        self.sizes = sizes
        self.workdir = workdir
        self.say = say
        self.profile = profile  # a py-spy mode: the drain's and the latency run's worker are profiled
        self.profile_dir = profile_dir or workdir
        # every device's first message three hours ago, one per second after: all past, none overlapping
        self.base_ms = (int(time.time()) - 3 * 3600) * 1000

    def plan(self, messages: int) -> list[Shard]:
        return shards(self.sizes.devices, messages, self.sizes.publishers, self.base_ms)

    def probe(self, stack: Stack, messages: int) -> None:
        """A few messages end to end: every worker is subscribed and the path to InfluxDB works."""
        client = Publisher(stack.broker.host, stack.broker.port, "bench-probe")
        topic = f"{TOPIC_ROOT}/bench-probe/up".encode()
        packets = []
        for i in range(messages):
            body = b'{"time":%d,"readings":{"%s":400}}' % (self.base_ms - (i + 1) * 1000, PROBE_QUANTITY.encode())
            packets.append(publish_packet(topic, i, body))
        client.publish_all(packets)
        client.close()
        wait_for(lambda: count(stack.influx, DATABASE, PROBE_QUANTITY) >= messages, 60, "the probe messages")

    # --- raw limits -------------------------------------------------------------------------------
    def raw(self) -> dict[str, Any]:
        plan = self.plan(self.sizes.raw_messages)
        directory = self.workdir / "raw"
        with Stack(directory) as stack:
            self.say(f"raw: broker alone, {self.sizes.raw_messages:,} messages")
            broker = raw.broker_limits(stack, plan, directory, window=self.sizes.window)
            self.say("raw: InfluxDB alone")
            influx = raw.influx_limit(stack, plan, DATABASE)
        return {"broker": broker, "influxdb": influx}

    # --- drain (and memory, scale-out) ------------------------------------------------------------
    def drain(
        self,
        name: str,
        messages: int,
        *,
        workers: int = 1,
        share_group: str | None = None,
        profile: bool = False,
        settle_s: float = 0.0,
        supervised: str | None = None,
    ) -> dict[str, Any]:
        """Workers subscribed then paused; ``messages`` published; workers resumed; time until all are stored.

        ``supervised`` (a number or "auto"): one ``suitcase ingest --workers`` instead, its supervisor and
        workers sampled as ``ingest-0`` (the supervisor), ``ingest-1``, ..."""
        directory = self.workdir / name
        plan = self.plan(messages)
        settings = None if supervised is None else {"workers": supervised}
        with Stack(directory) as stack:
            crew = [
                IngestWorker(
                    directory / f"worker-{n}",
                    stack,
                    client_id=f"suitcase-ingest-bench-{name}-{n}",
                    share_group=share_group,
                    settings=settings,
                )
                for n in range(workers)
            ]
            try:
                for worker in crew:
                    worker.start()
                if supervised is not None:
                    started = crew[0]
                    workers = len(os.sched_getaffinity(0)) if supervised == "auto" else int(supervised)
                    wait_for(lambda: started.log().count("connected to broker") >= workers, 60, "every worker")
                self.probe(stack, 3 * workers)
                if supervised is None:
                    pids = {f"ingest-{n}": worker.pid for n, worker in enumerate(crew)}
                else:
                    pids = {f"ingest-{n}": pid for n, pid in enumerate(family(crew[0].pid))}
                sampler = ProcessSampler(
                    {**pids, "mosquitto": server_pid(stack.broker.pid), "influxdb": server_pid(stack.influx.pid)}
                )
                sampler.start()
                paused = time.monotonic()
                for worker in crew:
                    worker.pause()
                self.say(f"{name}: {workers} worker(s) paused; publishing {messages:,} messages")
                published = publish(stack.broker, plan, directory, "publishers", window=self.sizes.window)
                profiler = self._profiler(name, crew[0].pid) if profile else None
                self.say(f"{name}: resumed; waiting until InfluxDB holds all {messages:,}")
                start = time.monotonic()
                for worker in crew:
                    worker.resume()
                sampler.sample_now()
                threads_before = thread_cpu(crew[0].pid)
                done = self._wait_stored(stack, plan, start)
                sampler.sample_now()
                threads_after = thread_cpu(crew[0].pid)
                if profiler is not None:
                    profiler.stop()
                time.sleep(settle_s)
                sampler.stop()
            finally:
                statuses = [worker.stop() for worker in crew]
        result = _throughput(messages, start, done, sampler, list(pids))
        result.update(
            workers=workers,
            devices=self.sizes.devices,
            published_while_paused_msg_s=round(published.rate),
            received_per_worker=[status.get("received", 0) for status in statuses],
            duplicates_per_worker=[status.get("duplicates", 0) for status in statuses],
        )
        result["ingest_0_threads_cpu_share"] = {
            name: round((threads_after[name] - threads_before[name]) / result["seconds"], 2) for name in threads_after
        }
        result["marks_s"] = {
            "paused": round(paused - sampler.started, 3),
            "resumed": round(start - sampler.started, 3),
            "stored": round(done.done - sampler.started, 3),
        }
        result["samples"] = {name: sampler.as_json(name) for name in sampler.pids}
        if profiler is not None:
            result["profile"] = {"file": profiler.output.name, "mode": profiler.mode, **summarise(profiler.output)}
        return result

    def _profiler(self, name: str, pid: int) -> Profiler | None:
        if self.profile is None:
            return None
        profiler = Profiler(pid, self.profile_dir / f"profile-{name}-{self.profile}.txt", mode=self.profile)
        time.sleep(0.5)  # py-spy attaches before the clock starts
        return profiler

    def _wait_stored(self, stack: Stack, plan: list[Shard], start: float) -> Completion:
        messages = sum(shard.messages for shard in plan)
        return wait_until_stored(
            stack.influx,
            DATABASE,
            MEASUREMENTS,
            messages,
            tail_since_ns=plan[0].last_round_ms() * 1_000_000,
            tail_expected=self.sizes.devices,
            start=start,
        )

    def memory(self) -> dict[str, Any]:
        """The drain with 1,000,000 messages, the worker's VmRSS sampled every 0.5 s throughout. With
        ``memory_workers`` other than "1", ``suitcase ingest --workers`` drains, and the figures are those of the
        worker that peaked highest (the supervisor's peak beside them)."""
        workers = self.sizes.memory_workers
        supervised = None if workers == "1" else workers
        result = self.drain("memory", self.sizes.memory_messages, settle_s=3.0, supervised=supervised)
        name = "ingest-0"
        if supervised is not None:
            peaks = {key: max(s[1] for s in series) for key, series in result["samples"].items()}
            workers_only = [key for key in peaks if key.startswith("ingest-") and key != "ingest-0"]
            name = max(workers_only, key=peaks.__getitem__)
            result["supervised"] = {"workers": supervised, "worker_peaks_mb": {k: peaks[k] for k in workers_only}}
            result["supervised"]["supervisor_peak_mb"] = peaks["ingest-0"]
        samples = result["samples"][name]  # [t, rss_mb, cpu_s]
        resumed, stored = result["marks_s"]["resumed"], result["marks_s"]["stored"]
        during = [s for s in samples if resumed <= s[0] <= stored] or samples
        middle = (resumed + stored) / 2
        first_half = max((s[1] for s in during if s[0] <= middle), default=0.0)
        second_half = max((s[1] for s in during if s[0] > middle), default=first_half)
        result["rss_mb"] = {
            "peak": max(s[1] for s in samples),
            "final": samples[-1][1],
            "at_resume": min(samples, key=lambda s: abs(s[0] - resumed))[1],
            "peak_first_half": first_half,
            "peak_second_half": second_half,
            "growth_second_half_percent": round(100 * (second_half - first_half) / first_half, 1) if first_half else 0,
        }
        return result

    def scaleout(self) -> dict[str, Any]:
        runs = {}
        for workers in self.sizes.scaleout_workers:
            runs[str(workers)] = self.drain(
                f"scaleout-{workers}", self.sizes.scaleout_messages, workers=workers, share_group=SHARE_GROUP
            )
        return runs

    # --- live -------------------------------------------------------------------------------------
    def live(self) -> dict[str, Any]:
        """The publishers alone first (no subscriber: the broker takes and drops), then with the service."""
        messages = self.sizes.live_messages
        directory = self.workdir / "live"
        plan = self.plan(messages)
        with Stack(directory) as stack:
            self.say(f"live: publishers alone, {messages:,} messages")
            alone = publish(stack.broker, plan, directory, "publishers-alone", window=self.sizes.window)
            worker = IngestWorker(directory / "worker-0", stack, client_id="suitcase-ingest-bench-live-0")
            try:
                worker.start()
                self.probe(stack, 3)
                sampler = ProcessSampler(
                    {
                        "ingest-0": worker.pid,
                        "mosquitto": server_pid(stack.broker.pid),
                        "influxdb": server_pid(stack.influx.pid),
                    }
                )
                sampler.start()
                group = PublisherGroup(stack.broker, plan, directory, "publishers", window=self.sizes.window).ready()
                self.say(f"live: publishing {messages:,} messages to the running service")
                start = group.go()
                sampler.sample_now()
                published = group.wait()
                done = self._wait_stored(stack, plan, start)
                sampler.sample_now()
                sampler.stop()
            finally:
                status = worker.stop()
        result = _throughput(messages, start, done, sampler, ["ingest-0"])
        result.update(
            publishers_alone_msg_s=round(alone.rate),
            publishers_with_service_msg_s=round(published.rate),
            published_by_s=round(published.finished - start, 3),
            duplicates=status.get("duplicates", 0),
        )
        return result

    # --- latency ----------------------------------------------------------------------------------
    def latency(self) -> dict[str, Any]:
        sizes = self.sizes
        messages = round(sizes.latency_rate * sizes.latency_seconds)
        directory = self.workdir / "latency"
        with Stack(directory) as stack:
            worker = IngestWorker(directory / "worker-0", stack, client_id="suitcase-ingest-bench-latency-0")
            try:
                worker.start()
                self.probe(stack, 3)
                sampler = ProcessSampler({"ingest-0": worker.pid})
                sampler.start()
                publisher = PacedPublisher(
                    stack.broker.host, stack.broker.port, devices=sizes.devices, rate=sizes.latency_rate, count=messages
                )
                poller = VisibilityPoller(stack.influx, DATABASE, publisher.published, interval=sizes.latency_poll_s)
                self.say(f"latency: {sizes.latency_rate:,.0f} msg/s for {sizes.latency_seconds:g} s")
                poller.start()
                profiler = self._profiler("latency", worker.pid)
                began = sampler.sample_now()
                threads_before = thread_cpu(worker.pid)
                publisher.start()
                publisher.join()
                ended = sampler.sample_now()
                threads_after = thread_cpu(worker.pid)
                if profiler is not None:
                    profiler.stop()
                poller.finish(timeout=60)
                sampler.stop()
                if publisher.error is not None or publisher.result is None:
                    raise BenchError(f"the paced publisher failed: {publisher.error!r}")
                stored = count(stack.influx, DATABASE, "temperature")
            finally:
                worker.stop()
        result = publisher.result
        figures: dict[str, Any] = {
            "messages": messages,
            "rate_target": sizes.latency_rate,
            "rate_achieved": round(result.acked / max(result.finished - result.started, 1e-9)),
            "seconds": sizes.latency_seconds,
            "stored": stored,
            "loss": messages - stored,
            **latency_figures(publisher.published, poller.first_seen),
            "poll_interval_ms": sizes.latency_poll_s * 1000,
            "query_ms": percentiles(poller.query_ms),
            "ingest_cpu_share": round(sampler.cpu_between("ingest-0", began, ended) / max(ended - began, 1e-9), 2),
            "ingest_threads_cpu_share": {
                name: round((threads_after[name] - threads_before[name]) / max(ended - began, 1e-9), 2)
                for name in threads_after
            },
        }
        if profiler is not None:
            figures["profile"] = {"file": profiler.output.name, "mode": profiler.mode, **summarise(profiler.output)}
        return figures

    def console(self) -> dict[str, Any]:
        self.say(f"console: the first screen with {self.sizes.console_devices:,} registered devices")
        return console.run(self.workdir / "console", self.sizes.console_devices, self.sizes.console_repeats)

    def tenants(self) -> dict[str, Any]:
        sizes = self.sizes
        plan = tenants.FloodPlan(
            rate=sizes.tenants_rate,
            seconds=sizes.tenants_seconds,
            quota=sizes.tenants_quota,
            rounds=sizes.tenants_rounds,
            devices=sizes.devices,
            poll_s=sizes.latency_poll_s,
            base_ms=self.base_ms,
        )
        return tenants.run(plan, self.workdir / "tenants", lambda stack: self.probe(stack, 3), self.say)

    def opendata(self) -> dict[str, Any]:
        sizes = self.sizes
        plan = opendata.LoadPlan(
            rate=sizes.opendata_rate,
            seconds=sizes.opendata_seconds,
            rounds=sizes.opendata_rounds,
            clients=sizes.opendata_clients,
            devices=sizes.devices,
            poll_s=sizes.latency_poll_s,
        )
        return opendata.run(plan, self.workdir / "opendata", lambda stack: self.probe(stack, 3), self.say)

    def peers(self, reference: Path = PEERS_REFERENCE) -> dict[str, Any]:
        sizes = self.sizes
        plan = peers.Plan(sizes.peers_messages, sizes.devices, sizes.peers_rounds, sizes.publishers, sizes.window,
                          self.base_ms, reference, self.profile, self.profile_dir)  # fmt: skip
        return peers.run(plan, self.workdir / "peers", self.say)

    def hotpath(self) -> dict[str, Any]:
        sizes = self.sizes
        self.say(f"hotpath: {sizes.hotpath_messages:,} messages through each variant, best of {sizes.hotpath_rounds}")
        return hotpath.run(sizes.hotpath_messages, sizes.hotpath_rounds, sizes.devices)

    def registry(self) -> dict[str, Any]:
        self.say(f"registry: importing {self.sizes.registry_devices:,} devices")
        return registry_import.run(self.sizes.registry_devices, self.sizes.registry_repeats)


def _throughput(
    messages: int, start: float, done: Completion, sampler: ProcessSampler, workers: list[str]
) -> dict[str, Any]:
    """msg/s from resume (or go) until InfluxDB held every message, bracketed by the poller's two queries."""
    seconds = done.done - start
    earliest = max(done.not_before - start, 1e-3)
    stored = min(done.counts.values())
    cpu = {name: sampler.cpu_between(name, start, done.done) for name in sampler.pids}
    return {
        "messages": messages,
        "seconds": round(seconds, 3),
        "msg_s": round(messages / seconds),
        "msg_s_bracket": [round(messages / seconds), round(messages / earliest)],
        "complete": done.complete,
        "stored": done.counts,
        "loss": messages - stored,
        "cpu_s": cpu,
        "cpu_share": {name: round(value / seconds, 2) for name, value in cpu.items()},
        "ingest_cpu_share": round(sum(cpu[name] for name in workers) / seconds, 2),
        "progress": done.progress,
        "influx_queries": done.queries,
    }
