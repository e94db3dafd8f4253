"""The side-by-side run's arithmetic and process tree (the run itself needs Node-RED from npm: `--peers`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.peers import summary
from bench.stack import family


def run(consumer: str, rate: int, rss: float = 100.0) -> dict[str, object]:
    return {"consumer": consumer, "msg_per_s": rate, "complete": True,
            "peak_rss_mb": {"largest_process": rss, "all": 2 * rss}}  # fmt: skip


def test_medians_and_the_ratio_to_node_red() -> None:
    runs = [run("nodered", r) for r in (20_000, 30_000, 25_000)] + [
        run("suitcase-1", r, 150) for r in (15_000, 16_000, 14_000)
    ]
    found = summary(runs)
    assert found["nodered"]["median_msg_s"] == 25_000
    assert found["nodered"]["ratio_to_nodered"] == 1.0
    assert found["suitcase-1"]["median_msg_s"] == 15_000
    assert found["suitcase-1"]["ratio_to_nodered"] == 0.6
    assert found["suitcase-1"]["peak_rss_mb_largest_process"] == 150
    assert "suitcase-auto" not in found


def test_a_supervisor_is_paused_with_its_workers() -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; subprocess.run([sys.executable, '-c', 'import time; time.sleep(30)'])",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while len(family(child.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        found = family(child.pid)
        assert found[0] == child.pid
        assert len(found) == 2, "the process and its child"
        assert os.getpid() not in found
    finally:
        for pid in reversed(family(child.pid)):
            os.kill(pid, 9)
        child.wait()
