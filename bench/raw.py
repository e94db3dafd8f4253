"""The limits of the parts, measured in the same run: the broker with a C client, InfluxDB on its own.

Every ingest figure is then also a share of what the broker and the database can do on this machine:
- broker, publish only: the benchmark's publishers with no subscriber (the broker takes and discards);
- broker, drain: ``mosquitto_sub`` resumes a persistent session holding N queued QoS 1 messages; time from
  its start until it has received all N (as the ingest drain, minus the service);
- broker, pass-through: ``mosquitto_sub`` subscribed while the publishers send N; until it has all N;
- InfluxDB: the service's line shape (2 readings + 1 uplink point per message), 5,000 lines per
  ``POST /write``, one request after the other on one keep-alive connection, as the service writes.
"""

from __future__ import annotations

import http.client
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.fleet import POINTS_PER_MESSAGE, TOPIC_ROOT, Shard, device_id
from bench.stack import BenchError, PublisherGroup, Stack, publish

SUBSCRIBER_ID = "bench-raw-subscriber"
INFLUX_BATCH_LINES = 5000


def _subscriber(stack: Stack, *extra: str) -> list[str]:
    """mosquitto_sub on the benchmark's topics, MQTT v5 and QoS 1 like the service, persistent session."""
    return [
        "mosquitto_sub", "-h", stack.broker.host, "-p", str(stack.broker.port), "-V", "mqttv5",
        "-i", SUBSCRIBER_ID, "-c", "-q", "1", "-t", f"{TOPIC_ROOT}/+/up", *extra,
    ]  # fmt: skip


def _create_session(stack: Stack) -> None:
    """Subscribe and leave (-E): from now on the broker queues every message for this session."""
    subprocess.run(_subscriber(stack, "-E"), check=True, timeout=30, stdout=subprocess.DEVNULL)


def _lines(path: Path) -> int:
    with path.open("rb") as file:
        return sum(1 for _ in file)


def broker_limits(stack: Stack, plan: list[Shard], directory: Path, *, window: int) -> dict[str, Any]:
    messages = sum(shard.messages for shard in plan)
    alone = publish(stack.broker, plan, directory, "publish-only", window=window)

    _create_session(stack)
    queued = publish(stack.broker, plan, directory, "publish-queued", window=window)
    out = directory / "drain.out"
    started = time.monotonic()
    with out.open("wb") as sink:
        subprocess.run(_subscriber(stack, "-C", str(messages), "-W", "600"), check=True, stdout=sink, timeout=660)
    drain_s = time.monotonic() - started
    drained = _lines(out)
    out.unlink()

    out = directory / "pass-through.out"
    group = PublisherGroup(stack.broker, plan, directory, "publish-pass-through", window=window).ready()
    with out.open("wb") as sink:
        subscriber = subprocess.Popen(_subscriber(stack, "-C", str(messages), "-W", "600"), stdout=sink)
        try:
            go = group.go()
            group.wait()
            subscriber.wait(timeout=660)
        finally:
            if subscriber.poll() is None:
                subscriber.kill()
                subscriber.wait()
    through_s = time.monotonic() - go
    passed = _lines(out)
    out.unlink()
    return {
        "messages": messages,
        "publish_only_msg_s": round(alone.rate),
        "publish_queued_msg_s": round(queued.rate),
        "drain_msg_s": round(messages / drain_s),
        "drain_s": round(drain_s, 3),
        "drain_loss": messages - drained,
        "pass_through_msg_s": round(messages / through_s),
        "pass_through_s": round(through_s, 3),
        "pass_through_loss": messages - passed,
        "client": "mosquitto_sub (MQTT v5, QoS 1, persistent session); publishers: bench.publisher",
    }


def influx_limit(stack: Stack, plan: list[Shard], database: str) -> dict[str, Any]:
    """Write the points of ``plan``'s messages as the service would, as fast as one connection can."""
    lines = []
    for shard in plan:
        for k in range(shard.per_device):
            stamp = (shard.base_ms + k * 1000) * 1_000_000
            for d in range(shard.first, shard.first + shard.devices):
                tags = f"device={device_id(d)},kind=-,model=-,site=-"
                lines.append(f"temperature,{tags} value={-20 + (k % 480) * 0.25!r} {stamp}")
                lines.append(f"humidity,{tags} value={(k % 200) * 0.5!r} {stamp}")
                lines.append(
                    f"suitcase_uplinks,device={device_id(d)},format=native,interval_s=-,site=- "
                    f"readings=2,bytes=58 {stamp}"
                )
    bodies = ["\n".join(lines[i : i + INFLUX_BATCH_LINES]).encode() for i in range(0, len(lines), INFLUX_BATCH_LINES)]
    connection = http.client.HTTPConnection(stack.influx.host, stack.influx.port, timeout=60)
    path = f"/write?db={database}&precision=ns"
    started = time.monotonic()
    for body in bodies:
        connection.request("POST", path, body, {"Content-Type": "text/plain"})
        response = connection.getresponse()
        detail = response.read()
        if response.status != 204:
            raise BenchError(f"InfluxDB refused a write: {response.status} {detail[:200]!r}")
    seconds = time.monotonic() - started
    connection.close()
    points_s = len(lines) / seconds
    return {
        "points": len(lines),
        "batch_lines": INFLUX_BATCH_LINES,
        "seconds": round(seconds, 3),
        "points_s": round(points_s),
        "msg_equivalent_s": round(points_s / POINTS_PER_MESSAGE),
        "points_per_message": POINTS_PER_MESSAGE,
    }
