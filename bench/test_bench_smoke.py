"""The whole benchmark in --smoke mode, as `scripts/bench --smoke` runs it: every scenario must produce its
figures with nothing lost. No timing is asserted: this checks the harness, the figures are for people."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scenarios import SCENARIOS

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_smoke_run_measures_every_scenario_without_loss(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--results-dir", str(results_dir), "--workdir", str(tmp_path / "w")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,  # the assertion below shows the benchmark's stderr
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((results_dir / "latest.json").read_text())
    table = (results_dir / "latest.md").read_text()
    scenarios = results["scenarios"]
    assert results["smoke"] is True
    assert set(scenarios) == set(SCENARIOS)

    broker, influx = scenarios["raw"]["broker"], scenarios["raw"]["influxdb"]
    assert broker["drain_loss"] == 0
    assert broker["pass_through_loss"] == 0
    assert min(broker["publish_only_msg_s"], broker["drain_msg_s"], broker["pass_through_msg_s"]) > 0
    assert influx["points_s"] > 0

    drains = [scenarios["drain"], scenarios["live"], scenarios["memory"], *scenarios["scaleout"].values()]
    for run in drains:
        assert run["complete"] is True
        assert run["loss"] == 0
        assert set(run["stored"].values()) == {run["messages"]}
        assert run["msg_s"] > 0
    assert set(scenarios["scaleout"]) == {"1", "2", "3"}
    for workers, run in scenarios["scaleout"].items():
        assert len(run["received_per_worker"]) == int(workers)
        assert all(received > 0 for received in run["received_per_worker"])
        assert sum(run["received_per_worker"]) >= run["messages"]

    latency = scenarios["latency"]
    assert latency["loss"] == 0
    assert latency["not_observed"] == 0
    assert set(latency["latency_ms"]) >= {"p50", "p95", "p99"}

    memory = scenarios["memory"]
    assert memory["rss_mb"]["peak"] > 0
    assert memory["rss_mb"]["final"] > 0
    assert len(memory["samples"]["ingest-0"]) >= 2

    registry = scenarios["registry"]
    assert registry["devices"] == 1000
    assert registry["in_process_s"]["max"] > 0
    assert registry["command_s"]["max"] > 0

    flood = scenarios["tenants"]
    assert [run["kind"] for run in flood["runs"]] == ["alone", "flood", "flood-no-quota"]
    for run in flood["runs"]:
        assert run["loss"] == 0
        assert run["not_observed"] == 0
    flooded = flood["runs"][1]
    assert flooded["flood"]["acked"] == flood["flood_rate"] * flood["seconds"], "the whole flood reached the broker"
    assert flooded["flooding_tenant_slowed"] is True, "the flooding tenant was held to its quota"
    assert flood["runs"][2]["flooding_tenant_slowed"] is False

    load = scenarios["opendata"]
    assert [run["kind"] for run in load["runs"]] == ["quiet", "queried"]
    assert all(run["loss"] == 0 for run in load["runs"])
    assert load["runs"][1]["queries"]["requests"] > 0, "the public side was asked"
    assert load["runs"][1]["queries"]["statuses"].get("200", 0) > 0

    hot = scenarios["hotpath"]
    assert hot["intake_submit_us"] > 0
    assert set(hot["pairs"]) == {"reading", "decode", "mqtt", "lines", "epoch", "time_ns", "batch"}
    assert all(pair["hand_written_us"] > 0 and pair["library_us"] > 0 for pair in hot["pairs"].values())

    # drain, latency, memory, the registry import twice, the console, the tenants' flood, the open-data load
    assert len(results["targets"]) == 8
    console = scenarios["console"]
    assert console["first_screen"]["median_s"] > 0
    assert console["first_screen"]["bytes"] > 10_000, "the first screen has the devices on it"
    assert all(isinstance(target["met"], bool) for target in results["targets"])
    rows = (
        "Drain, 1 ingest process",
        "Live, 1 ingest process",
        "Latency",
        "Memory",
        "Scale-out",
        "Registry",
        "Tenants",
        "Open data",
        "Hot path in process",
    )
    for row in rows:
        assert row in table
