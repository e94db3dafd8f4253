"""py-spy attached to a running ingest worker: where its CPU time goes, without touching its code.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;... count``). Only samples of
threads that were running are kept (py-spy drops idle ones), so shares are of busy time. A function's
*self* share counts the samples where it was the innermost frame; its *total* share, the samples where
it was anywhere on the stack.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_LINE_NUMBER = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    """The py-spy next to this interpreter (pip install py-spy into the venv), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


MODES = ("active", "gil")


class Profiler:
    """``py-spy record`` on one pid until ``stop()``, at ``rate`` Hz.

    ``mode`` "active": every thread that is running (the event loop, and the I/O threads in write/fsync);
    "gil": only the thread holding the GIL, i.e. where the process's one core of Python goes. py-spy
    pauses the target for each sample (consistent stacks; --nonblocking failed on ~30 % of samples here).
    """

    def __init__(self, pid: int, output: Path, *, mode: str = "active", rate: int = 100) -> None:
        executable = py_spy()
        if executable is None:
            raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.output = output
        self.mode = mode
        argv = [executable, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
        argv += [*(["--gil"] if mode == "gil" else []), "--output", str(output)]
        self._log = output.with_suffix(".log").open("wb")
        self._proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        """Ctrl-C for py-spy: it writes what it sampled and exits."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()


def _function(frame: str) -> str:
    """``name (path:line)`` -> ``name (path)``: one entry per function, whatever line it was on."""
    return _LINE_NUMBER.sub(")", frame.strip())


def summarise(collapsed: Path, *, top: int = 40) -> dict[str, Any]:
    """Top functions by self and total share of the samples in a collapsed-stacks file, and the share of the
    main thread (the event loop: MQTT, decoding, committer and drainer logic) against the I/O threads."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        count = int(number)
        frames = [_function(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        samples += count
        threads["main thread" if frames[0].startswith("_run_module_as_main") else "other threads"] += count
        own[frames[-1]] += count
        for name in set(frames):
            total[name] += count

    def share(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "samples": n, "percent": round(100 * n / samples, 1)}
            for name, n in counter.most_common(top)
        ]

    return {"samples": samples, "threads": share(threads), "self": share(own), "total": share(total)}
