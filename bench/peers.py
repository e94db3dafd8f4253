"""Issue #20's side-by-side run (``scripts/bench --peers``): Node-RED 4.1.15 with node-red-contrib-influxdb 0.7.0
running the reference flow (``../shared/peers/nodered/``: MQTT in at QoS 1, a JSON parse, a function batching
1,000 points or 1 s, the InfluxDB batch node) against iot-suitcase ingest, one process and ``--workers auto``.

Each consumer drains the same messages (1,000 devices, three readings each; the peer's topic and JSON shape
for Node-RED, the native format for iot-suitcase: ``bench.fleet``) from a paused subscription on a fresh
Mosquitto and InfluxDB: subscribed, paused (SIGSTOP, every process of it), every message published and
acknowledged by the broker, resumed, timed until InfluxDB holds all of them. Rounds interleave the consumers;
the table has medians. Node-RED is installed from the npm registry into the work dir (kept there for the
next run), never into the repository."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.fleet import CITY_TOPIC_ROOT, Shard, shards
from bench.mqtt import Publisher, publish_packet
from bench.observe import ProcessSampler, count, wait_until_stored
from bench.pyspy import Profiler, summarise
from bench.stack import DATABASE, BenchError, IngestWorker, Stack, family, publish, server_pid, wait_for

NODE_RED = "node-red@4.1.15"
INFLUX_NODES = "node-red-contrib-influxdb@0.7.0"
NATIVE3 = ("temperature", "humidity", "co2")
CONSUMERS = ("nodered", "suitcase-1", "suitcase-auto")
PROBES = 10


def install_node_red(home: Path, say: Callable[[str], None]) -> Path:
    """Node-RED and the InfluxDB nodes from the npm registry into ``home`` (once); its ``red.js``."""
    red = home / "node_modules" / "node-red" / "red.js"
    influx_nodes = home / "node_modules" / "node-red-contrib-influxdb"
    if red.exists() and influx_nodes.exists():
        return red
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm is not installed: Node-RED cannot be installed (Debian: apt-get install npm)")
    home.mkdir(parents=True, exist_ok=True)
    say(f"peers: npm install {NODE_RED} {INFLUX_NODES} into {home}")
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(home), NODE_RED, INFLUX_NODES],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0 or not red.exists():
        raise BenchError(f"npm could not install Node-RED: {(done.stderr or done.stdout)[-1500:]}")
    return red


class NodeRed:
    """Node-RED with the reference flow, its ports filled in, in a user dir of its own per run."""

    def __init__(self, red: Path, reference: Path, directory: Path, stack: Stack) -> None:
        userdir = directory / "nodered"
        userdir.mkdir(parents=True, exist_ok=True)
        influx_port = stack.influx.url.rsplit(":", 1)[1].strip("/")
        flows = (reference / "flows.json").read_text()
        flows = flows.replace("@MQTT_PORT@", str(stack.broker.port)).replace("@INFLUX_PORT@", influx_port)
        (userdir / "flows.json").write_text(flows)
        shutil.copy(reference / "settings.js", userdir / "settings.js")
        # the nodes are found in the user dir's node_modules, as a palette install would put them
        link = userdir / "node_modules"
        if not link.exists():
            link.symlink_to(red.parent.parent, target_is_directory=True)
        self.log_path = directory / "nodered.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                ["node", str(red), "-u", str(userdir), "--port", "0", "--settings", str(userdir / "settings.js")],
                cwd=userdir, stdout=log, stderr=log,
            )  # fmt: skip
        wait_for(lambda: "Connected to broker" in self.log() or self.proc.poll() is not None, 120, "Node-RED")
        if self.proc.poll() is not None:
            raise BenchError(f"Node-RED exited: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass(frozen=True, slots=True)
class Plan:
    messages: int
    devices: int
    rounds: int
    publishers: int
    window: int
    base_ms: int  # device time of every device's first message
    reference: Path  # the reference flow's folder
    profile: str | None = None  # a py-spy mode: the one-process run of round 1 is profiled
    profile_dir: Path | None = None

    def shards(self, form: str) -> list[Shard]:
        return shards(self.devices, self.messages, self.publishers, self.base_ms, form)


def run(plan: Plan, workdir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    if not (plan.reference / "flows.json").exists():
        raise BenchError(f"the reference flow is not at {plan.reference} (../shared/peers/nodered/)")
    red = install_node_red(workdir.parent / "peers-node-red", say)
    runs: list[dict[str, Any]] = []
    for number in range(1, plan.rounds + 1):
        for consumer in CONSUMERS:
            say(f"peers: round {number}: {consumer} drains {plan.messages:,} messages")
            directory = workdir / f"{consumer}-{number}"
            runs.append({"consumer": consumer, "round": number} | _drain(consumer, plan, directory, red))
    return {
        "messages": plan.messages,
        "devices": plan.devices,
        "rounds": plan.rounds,
        "versions": {"node-red": NODE_RED, "influx-nodes": INFLUX_NODES, "node": _node_version()},
        "runs": runs,
        "summary": summary(runs),
    }


def _drain(consumer: str, plan: Plan, directory: Path, red: Path) -> dict[str, Any]:
    run_shards = plan.shards("city" if consumer == "nodered" else "native3")
    messages, devices = plan.messages, plan.devices
    with Stack(directory) as stack:
        worker: IngestWorker | None = None
        nodered: NodeRed | None = None
        try:
            if consumer == "nodered":
                nodered = NodeRed(red, plan.reference, directory, stack)
                pids = [nodered.proc.pid]
                _probe_nodered(stack)
            else:
                workers = "auto" if consumer == "suitcase-auto" else "1"
                worker = IngestWorker(
                    directory / "worker",
                    stack,
                    client_id=f"suitcase-ingest-peers-{consumer}",
                    settings={"workers": workers},
                )
                worker.start()
                expected_workers = len(os.sched_getaffinity(0)) if workers == "auto" else 1
                wait_for(lambda: worker.log().count("connected to broker") >= expected_workers, 60, "every worker")
                pids = family(worker.pid)
            names = {f"consumer-{n}": pid for n, pid in enumerate(pids)}
            sampler = ProcessSampler(names | {"mosquitto": server_pid(stack.broker.pid),
                                              "influxdb": server_pid(stack.influx.pid)})  # fmt: skip
            sampler.start()
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            published = publish(stack.broker, run_shards, directory, "publishers", window=plan.window)
            profiler = _profiler(plan, consumer, directory, pids[0])
            start = time.monotonic()
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            if nodered is not None:
                done = wait_until_stored(
                    stack.influx, DATABASE, ("sensor",), messages + PROBES,
                    tail_since_ns=run_shards[0].last_round_ms() * 1_000_000, tail_expected=devices, start=start,
                    field="temperature",
                )  # fmt: skip
            else:
                done = wait_until_stored(
                    stack.influx, DATABASE, NATIVE3, messages,
                    tail_since_ns=run_shards[0].last_round_ms() * 1_000_000, tail_expected=devices, start=start,
                )  # fmt: skip
            sampler.sample_now()
            sampler.stop()
            if profiler is not None:
                profiler.stop()
        finally:
            if nodered is not None:
                nodered.stop()
            if worker is not None:
                worker.stop()
    seconds = done.done - start
    rss = {name: max(s[1] for s in sampler.as_json(name)) for name in names}
    profiled: dict[str, Any] = {}
    if profiler is not None:
        profiled["profile"] = {"file": profiler.output.name, "mode": profiler.mode, **summarise(profiler.output)}
    return profiled | {
        "complete": done.complete,
        "seconds": round(seconds, 3),
        "msg_per_s": round(messages / seconds) if done.complete else 0,
        "published_while_paused_msg_s": round(published.rate),
        "processes": len(pids),
        "peak_rss_mb": {"largest_process": max(rss.values()), "all": round(sum(rss.values()), 1)},
        "cpu_s": {name: round(sampler.cpu_between(name, sampler.started, done.done), 2) for name in sampler.pids},
    }


def _profiler(plan: Plan, consumer: str, directory: Path, pid: int) -> Profiler | None:
    """py-spy on the one-process run of the first round, when asked for (``--profile``)."""
    if plan.profile is None or consumer != "suitcase-1" or not directory.name.endswith("-1"):
        return None
    output = (plan.profile_dir or directory) / f"profile-peers-{consumer}-{plan.profile}.txt"
    profiler = Profiler(pid, output, mode=plan.profile)
    time.sleep(0.5)  # py-spy attaches before the clock starts
    return profiler


def _probe_nodered(stack: Stack) -> None:
    """A few messages through the flow: subscribed, and its path to InfluxDB works (they are counted too)."""
    client = Publisher(stack.broker.host, stack.broker.port, "bench-probe")
    packets = [
        publish_packet(f"{CITY_TOPIC_ROOT}/bench-probe/up".encode(), i,
                       b'{"ts":%d.000,"temperature":1,"humidity":1,"co2":400}' % (1_600_000_000 + i))
        for i in range(PROBES)
    ]  # fmt: skip
    client.publish_all(packets)
    client.close()
    wait_for(lambda: count(stack.influx, DATABASE, "sensor", field="temperature") >= PROBES, 60, "the probe")


def _node_version() -> str:
    try:
        return subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    except OSError:
        return "not found"


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each consumer's median rate and peak RSS, and its ratio to Node-RED's median."""
    found: dict[str, Any] = {}
    for consumer in CONSUMERS:
        mine = [r for r in runs if r["consumer"] == consumer]
        if not mine:
            continue
        found[consumer] = {
            "median_msg_s": round(statistics.median(r["msg_per_s"] for r in mine)),
            "runs_msg_s": [r["msg_per_s"] for r in mine],
            "peak_rss_mb_largest_process": max(r["peak_rss_mb"]["largest_process"] for r in mine),
            "peak_rss_mb_all": max(r["peak_rss_mb"]["all"] for r in mine),
            "complete": all(r["complete"] for r in mine),
        }
    reference = found.get("nodered", {}).get("median_msg_s")
    for figures in found.values():
        figures["ratio_to_nodered"] = round(figures["median_msg_s"] / reference, 2) if reference else None
    return found
