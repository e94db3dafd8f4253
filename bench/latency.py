"""Publish -> queryable latency: a paced publisher stamps each message with its publish time as the device
timestamp, and a poller asks InfluxDB every few milliseconds which of those points it can see now.

A point's time *is* its publish time (microseconds), so a row names its message by (device, time). The
poller queries only from the oldest message it has not seen yet onwards, so each query returns what is
new plus what became visible since, not the whole run. A message first seen in query k became queryable
after query k-1 was sent and before query k answered: latency is reported at the answer (an upper
bound), and the bracket width is the error bar.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bench.fleet import TOPIC_ROOT, device_id, topic
from bench.mqtt import Publisher, PublishResult
from iot_suitcase.servers import InfluxDB

Key = tuple[str, int]  # (device id, device time in microseconds)


def rfc3339_us(time_ns: int) -> str:
    seconds, rest = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}Z"


@dataclass(slots=True)
class Published:
    """The messages sent so far, in publish order (appended by the publisher, read by the poller)."""

    keys: list[Key] = field(default_factory=list)
    times_ns: list[int] = field(default_factory=list)


class PacedPublisher(threading.Thread):
    """``count`` messages at ``rate`` per second, round-robin over ``devices``, each stamped as it is sent."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        devices: int,
        rate: float,
        count: int,
        root: str = TOPIC_ROOT,
        client_id: str = "bench-latency",
    ) -> None:
        super().__init__(daemon=True, name=f"bench-paced-publisher-{client_id}")
        self.devices = devices
        self.rate = rate
        self.count = count
        self.published = Published()
        self.result: PublishResult | None = None
        self.error: BaseException | None = None
        self._topics = [topic(d, root) for d in range(devices)]
        self._ids = [device_id(d) for d in range(devices)]
        self._client = Publisher(host, port, client_id, window=10_000)

    def _make(self, index: int, now_ns: int) -> tuple[bytes, bytes]:
        device = index % self.devices
        k = index // self.devices
        body = b'{"time":"%s","readings":{"temperature":%.2f,"humidity":%.1f}}' % (
            rfc3339_us(now_ns).encode(),
            -20 + (k % 480) * 0.25,
            (k % 200) * 0.5,
        )
        self.published.times_ns.append(now_ns // 1000 * 1000)
        self.published.keys.append((self._ids[device], now_ns // 1000))
        return self._topics[device], body

    def run(self) -> None:
        try:
            self.result = self._client.publish_paced(self._make, rate=self.rate, count=self.count)
        except BaseException as error:  # reported by the scenario, which joins this thread
            self.error = error
        finally:
            self._client.close()


class VisibilityPoller(threading.Thread):
    """Queries InfluxDB every ``interval`` s for the published points; records when each was first seen."""

    def __init__(self, influx: InfluxDB, db: str, published: Published, *, interval: float) -> None:
        super().__init__(daemon=True, name="bench-visibility-poller")
        self.influx = influx
        self.db = db
        self.published = published
        self.interval = interval
        self.first_seen: dict[Key, tuple[int, int]] = {}  # key -> (previous query sent, this query answered), ns
        self.query_ms: list[float] = []
        self._stop_when_done = threading.Event()
        self._deadline = float("inf")

    def finish(self, timeout: float) -> None:
        """Keep polling until every published message was seen, or ``timeout`` s."""
        self._deadline = time.monotonic() + timeout
        self._stop_when_done.set()
        self.join()

    def run(self) -> None:
        oldest = 0  # index of the oldest published message not seen yet
        previous_sent = time.time_ns()
        while True:
            keys = self.published.keys
            while oldest < len(keys) and keys[oldest] in self.first_seen:
                oldest += 1
            if self._stop_when_done.is_set() and (oldest >= len(keys) or time.monotonic() > self._deadline):
                return
            started = time.monotonic()
            if oldest < len(keys):
                sent = time.time_ns()
                since = self.published.times_ns[oldest]
                result = self.influx.query(
                    f'SELECT "value", "device" FROM "temperature" WHERE time >= {since}',  # noqa: S608 - our names
                    self.db,
                )
                answered = time.time_ns()
                self.query_ms.append((answered - sent) / 1e6)
                for statement in result.get("results", []):
                    for series in statement.get("series", []):
                        for point_time, _value, device in series["values"]:
                            key = (device, point_time // 1000)
                            if key not in self.first_seen:
                                self.first_seen[key] = (previous_sent, answered)
                previous_sent = sent
            pause = started + self.interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of ``values`` (share in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def latency_figures(published: Published, first_seen: dict[Key, tuple[int, int]]) -> dict[str, Any]:
    """Percentiles of publish -> queryable (upper bound), of its lower bound and of the poll's resolution, in ms;
    and how many published messages were observed at all."""
    upper, lower, width = [], [], []
    for key, sent_ns in zip(published.keys, published.times_ns, strict=True):
        if key in first_seen:
            after, answered = first_seen[key]
            upper.append((answered - sent_ns) / 1e6)
            lower.append(max(0, after - sent_ns) / 1e6)
            width.append((answered - max(after, sent_ns)) / 1e6)
    return {
        "observed": len(upper),
        "not_observed": len(published.keys) - len(upper),
        "latency_ms": percentiles(upper),
        "latency_lower_bound_ms": percentiles(lower),
        "resolution_ms": percentiles(width),
    }


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 0.50), 1),
        "p95": round(percentile(values, 0.95), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(max(values), 1),
        "mean": round(sum(values) / len(values), 1),
    }


def p99_comparison(runs: list[dict[str, Any]], base: str, loaded: str) -> dict[str, Any]:
    """The median p99 of the ``base`` runs and of the ``loaded`` ones, and the noise: the spread of the base runs'
    p99s. A load is within the noise when it raises the median by no more than that spread."""

    def p99s(kind: str) -> list[float]:
        return [r["latency_ms"].get("p99", float("inf")) for r in runs if r["kind"] == kind]

    alone, under = p99s(base), p99s(loaded)
    noise = max(alone) - min(alone)
    raised = statistics.median(under) - statistics.median(alone)
    return {
        f"{base.replace('-', '_')}_p99_ms": round(statistics.median(alone), 1),
        f"{loaded.replace('-', '_')}_p99_ms": round(statistics.median(under), 1),
        "noise_ms": round(noise, 1),
        "raised_ms": round(raised, 1),
        "loss": sum(r["loss"] for r in runs),
        "not_observed": sum(r["not_observed"] for r in runs),
        "met": raised <= noise and all(r["loss"] == 0 and r["not_observed"] == 0 for r in runs),
    }
