"""``python -m bench`` (``scripts/bench``): run issue #9's scenarios, print the table, write the results."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.pyspy import MODES
from bench.scenarios import OPTIONAL, SCENARIOS, Bench, Sizes
from iot_suitcase import compiled

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Throughput, latency and memory of the ingest service on real Mosquitto and InfluxDB, "
        "plus the limits of both alone. Writes latest.json and latest.md to --results-dir.",
    )
    parser.add_argument("--smoke", action="store_true", help="every scenario scaled down to a few thousand messages")
    parser.add_argument("--only", help=f"comma-separated scenarios to run, of: {','.join(SCENARIOS + OPTIONAL)}")
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also run the side-by-side comparison with Node-RED (installs node-red 4.1.15 and "
        "node-red-contrib-influxdb 0.7.0 from the npm registry into the work dir's parent)",
    )
    parser.add_argument("--peers-reference", type=Path, help="the Node-RED reference flow's folder "
                        "(default: ../shared/peers/nodered beside the checkout)")  # fmt: skip
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where latest.json/.md go")
    parser.add_argument("--workdir", type=Path, help="where the servers keep their data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (server logs, ingest logs)")
    parser.add_argument(
        "--profile",
        choices=MODES,
        help="py-spy on the ingest process of the drain and latency runs: every running thread (active) or "
        "only the thread holding the GIL (gil); collapsed stacks go to the results dir",
    )
    sizes = parser.add_argument_group("sizes (defaults: issue #9's; --smoke: a few thousand messages)")
    sizes.add_argument("--devices", type=int)
    sizes.add_argument("--drain-messages", type=int)
    sizes.add_argument("--live-messages", type=int)
    sizes.add_argument("--latency-rate", type=float, help="msg/s")
    sizes.add_argument("--latency-seconds", type=float)
    sizes.add_argument("--memory-messages", type=int)
    sizes.add_argument("--memory-workers", help='"auto" or a number: the memory drain by `suitcase ingest --workers`')
    sizes.add_argument("--scaleout-messages", type=int)
    sizes.add_argument("--scaleout-workers", help="comma-separated worker counts, e.g. 1,2,3")
    sizes.add_argument("--raw-messages", type=int)
    sizes.add_argument("--registry-devices", type=int)
    sizes.add_argument("--console-devices", type=int, help="registered devices behind the console's first screen")
    sizes.add_argument("--publishers", type=int, help="publisher processes")
    sizes.add_argument("--tenants-rate", type=float, help="the quiet tenant's msg/s while another floods")
    sizes.add_argument("--tenants-quota", type=float, help="the flooding tenant's quota in msg/s (it floods at 10x)")
    sizes.add_argument("--tenants-seconds", type=float, help="length of each run of the flood test")
    sizes.add_argument("--tenants-rounds", type=int, help="alone/flood pairs of runs (their spread is the noise)")
    sizes.add_argument("--opendata-rate", type=float, help="msg/s while the open-data side is flooded")
    sizes.add_argument("--opendata-seconds", type=float, help="length of each run of the open-data load test")
    sizes.add_argument("--opendata-rounds", type=int, help="quiet/queried pairs of runs (their spread is the noise)")
    sizes.add_argument("--opendata-clients", type=int, help="threads of the open-data query flood")
    sizes.add_argument("--peers-messages", type=int, help="messages each consumer drains in the side-by-side run")
    sizes.add_argument("--peers-rounds", type=int, help="interleaved rounds of the side-by-side run")
    sizes.add_argument("--hotpath-messages", type=int, help="messages through each variant of the in-process pairs")
    sizes.add_argument("--hotpath-rounds", type=int, help="interleaved rounds of the in-process pairs (best counts)")
    return parser


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(total_kib / 2**20, 1),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mosquitto": _first_line(["mosquitto", "-h"]),
        "influxdb": _first_line(["influxd", "version"]),
        "commit": _first_line(["git", "-C", str(RESULTS_DIR.parent.parent), "rev-parse", "--short", "HEAD"]),
        "hot_path": str(compiled.STATUS),  # the service's modules compiled by mypyc, or its sources
    }


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "not found"
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = (Sizes.smoke() if args.smoke else Sizes()).with_overrides(
        devices=args.devices,
        drain_messages=args.drain_messages,
        live_messages=args.live_messages,
        latency_rate=args.latency_rate,
        latency_seconds=args.latency_seconds,
        memory_messages=args.memory_messages,
        memory_workers=args.memory_workers,
        scaleout_messages=args.scaleout_messages,
        scaleout_workers=tuple(int(n) for n in args.scaleout_workers.split(",")) if args.scaleout_workers else None,
        raw_messages=args.raw_messages,
        registry_devices=args.registry_devices,
        console_devices=args.console_devices,
        publishers=args.publishers,
        tenants_rate=args.tenants_rate,
        tenants_quota=args.tenants_quota,
        tenants_seconds=args.tenants_seconds,
        tenants_rounds=args.tenants_rounds,
        opendata_rate=args.opendata_rate,
        opendata_seconds=args.opendata_seconds,
        opendata_rounds=args.opendata_rounds,
        opendata_clients=args.opendata_clients,
        peers_messages=args.peers_messages,
        peers_rounds=args.peers_rounds,
        hotpath_messages=args.hotpath_messages,
        hotpath_rounds=args.hotpath_rounds,
    )
    wanted = SCENARIOS if not args.only else tuple(name.strip() for name in args.only.split(","))
    if args.peers:
        wanted += ("peers",)
    unknown = set(wanted) - set(SCENARIOS + OPTIONAL)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS + OPTIONAL)}")
    args.results_dir.mkdir(parents=True, exist_ok=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="suitcase-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")

    def say(text: str) -> None:
        print(f"[bench {time.monotonic() - began:6.1f} s] {text}", file=sys.stderr, flush=True)

    bench = Bench(sizes, workdir, say=say, profile=args.profile, profile_dir=args.results_dir)
    scenarios: dict[str, Any] = {}
    try:
        for name in SCENARIOS + OPTIONAL:  # always in this order, whatever order --only names them
            if name not in wanted:
                continue
            say(f"scenario {name}")
            if name == "peers" and args.peers_reference:
                scenarios[name] = bench.peers(args.peers_reference)
            elif name == "drain":
                scenarios[name] = bench.drain("drain", sizes.drain_messages, profile=True)
            else:
                scenarios[name] = getattr(bench, name)()
    finally:
        if args.keep:
            say(f"work dir kept: {workdir}")
        elif args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return {
        "started_at": started_at,
        "duration_s": round(time.monotonic() - began, 1),
        "smoke": args.smoke,
        "machine": machine(),
        "sizes": sizes.as_json(),
        "targets": report.targets(scenarios),
        "scenarios": scenarios,
    }


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    results = run(args)
    text = report.table(results["scenarios"])
    host = results["machine"]
    heading = (
        f"Benchmark of {results['started_at']} ({'smoke' if results['smoke'] else 'full'} run, "
        f"{results['duration_s']:.0f} s) on {host['nproc']} x {host['cpu_model']}, {host['memory_gib']} GiB, "
        f"Python {host['python']} (hot path {host['hot_path']}), {host['mosquitto']}, "
        f"{host['influxdb']}, commit {host['commit']}\n\n"
    )
    (args.results_dir / "latest.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.results_dir / "latest.md").write_text(heading + text)
    print(heading + text)
    return 0
