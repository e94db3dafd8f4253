"""Watching from outside: point counts in InfluxDB, a process's memory and CPU time from /proc.

"InfluxDB holds all N messages" is observed, never taken from the service's word: a query counts the
points. Counting a whole measurement costs InfluxDB ~35 ms per 200,000 points (150 ms at 1,000,000)
on the reference machine, CPU taken from the system under test; so the poller asks a cheap question
often (are the last messages of every device there?) and the exact question (is every message there?)
only when the cheap one says yes, plus every few seconds for a progress curve.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iot_suitcase.servers import InfluxDB

_CLOCK_TICKS = 100  # USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux


def count(influx: InfluxDB, db: str, measurement: str, *, since_ns: int | None = None, field: str = "value") -> int:
    """Points of ``measurement`` (at or after ``since_ns``) that a query sees right now."""
    where = f" WHERE time >= {since_ns}" if since_ns is not None else ""
    result = influx.query(f'SELECT count("{field}") FROM "{measurement}"{where}', db)  # noqa: S608 - our names
    series = result["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


@dataclass(slots=True)
class Completion:
    """When every message was first seen in InfluxDB, bracketed by two queries.

    ``done`` is when the first query that counted all of them returned (an upper bound); ``not_before``
    is when the last query that still counted fewer was sent (a lower bound). ``counts`` are the final
    exact counts per measurement; ``progress`` is (seconds since start, temperature points) samples.
    """

    complete: bool
    done: float
    not_before: float
    counts: dict[str, int]
    progress: list[tuple[float, int]] = field(default_factory=list)
    queries: int = 0


def wait_until_stored(
    influx: InfluxDB,
    db: str,
    measurements: tuple[str, ...],
    expected: int,
    *,
    tail_since_ns: int,
    tail_expected: int,
    start: float,
    interval: float = 0.1,
    progress_every: float = 5.0,
    stall_timeout: float = 60.0,
    field: str = "value",
) -> Completion:
    """Poll until every measurement holds ``expected`` points, or nothing new arrived for ``stall_timeout`` s.

    The cheap probe counts the points at or after ``tail_since_ns`` (the devices' last messages,
    ``tail_expected`` of them); the exact count runs when the probe is complete and every
    ``progress_every`` s. A missing message ends the wait after ``stall_timeout`` s without progress,
    and shows as a final count below ``expected``.
    """
    not_before = start
    progress: list[tuple[float, int]] = []
    last_progress = start
    last_growth = (start, -1)
    queries = 0
    while True:
        sent = time.monotonic()
        probe = count(influx, db, measurements[0], since_ns=tail_since_ns, field=field)
        queries += 1
        if probe >= tail_expected or time.monotonic() - last_progress >= progress_every:
            exact_sent = time.monotonic()
            counts = {measurements[0]: count(influx, db, measurements[0], field=field)}
            queries += 1
            if counts[measurements[0]] >= expected:  # the others only now: each exact count costs InfluxDB
                counts.update({m: count(influx, db, m, field=field) for m in measurements[1:]})
                queries += len(measurements) - 1
            answered = time.monotonic()
            progress.append((round(answered - start, 3), counts[measurements[0]]))
            last_progress = answered
            if len(counts) == len(measurements) and min(counts.values()) >= expected:
                return Completion(True, answered, not_before, counts, progress, queries)
            not_before = exact_sent
            if counts[measurements[0]] > last_growth[1]:
                last_growth = (answered, counts[measurements[0]])
            elif answered - last_growth[0] > stall_timeout:
                counts.update({m: count(influx, db, m, field=field) for m in measurements[1:]})
                return Completion(False, answered, not_before, counts, progress, queries)
        else:
            not_before = sent
        pause = sent + interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)


@dataclass(frozen=True, slots=True)
class Sample:
    """One look at a process: seconds since sampling began, resident memory, CPU time used so far."""

    t: float
    rss_bytes: int
    cpu_s: float


def read_process(pid: int) -> tuple[int, float]:
    """(VmRSS in bytes, user + system CPU seconds) of a live process."""
    rss = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
                break
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of a process's main thread and of all its other threads together (from /proc/<pid>/task):
    a Python process whose main thread is near one full core is bound by that thread (and the GIL)."""
    main = others = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread has ended
        seconds = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        if task.name == str(pid):
            main += seconds
        else:
            others += seconds
    return {"main_thread": main, "other_threads": others}


class ProcessSampler(threading.Thread):
    """Samples named processes every ``interval`` s (VmRSS, CPU time) until ``stop()``."""

    def __init__(self, pids: dict[str, int], interval: float = 0.5) -> None:
        super().__init__(daemon=True, name="bench-sampler")
        self.pids = pids
        self.interval = interval
        self.started = time.monotonic()
        self.samples: dict[str, list[Sample]] = {name: [] for name in pids}
        self._halt = threading.Event()

    def sample_now(self) -> float:
        """Take a sample of every process at once (also between the periodic ones); return its moment."""
        moment = time.monotonic()
        now = round(moment - self.started, 3)
        for name, pid in self.pids.items():
            try:
                rss, cpu = read_process(pid)
            except (OSError, IndexError, ValueError):
                continue  # the process has exited
            self.samples[name].append(Sample(now, rss, cpu))
        return moment

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample_now()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self.sample_now()

    def cpu_between(self, name: str, start: float, end: float) -> float:
        """CPU seconds ``name`` used between two time.monotonic() moments (nearest samples)."""
        samples = self.samples[name]
        if not samples:
            return 0.0
        first = min(samples, key=lambda s: abs(s.t - (start - self.started)))
        last = min(samples, key=lambda s: abs(s.t - (end - self.started)))
        return round(last.cpu_s - first.cpu_s, 2)

    def as_json(self, name: str) -> list[list[Any]]:
        """[[t, rss_mb, cpu_s], ...] for the results file."""
        return [[s.t, round(s.rss_bytes / 1e6, 1), s.cpu_s] for s in self.samples[name]]
