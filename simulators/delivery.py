"""Handing a message stream to a transport: MQTT, HTTP, or (``--dry-run``) JSON lines, paced by simulated time.

``speed`` maps simulated time to wall time: 1 is real time, 3600 an hour a second, 0 as fast as the
transport takes them. The summary counts each message as it is handed over; Ctrl-C stops the stream,
waits briefly for outstanding acknowledgements and still reports what went out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from tqdm import tqdm

from iot_suitcase.simulators.http import HttpOptions, HttpSender
from iot_suitcase.simulators.model import Outgoing
from iot_suitcase.simulators.mqtt import MqttOptions, MqttPublisher
from iot_suitcase.simulators.summary import Summary

MQTT, HTTP, DRY_RUN = "mqtt", "http", "dry-run"
_INTERRUPT_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class Delivery:
    transport: str = MQTT
    speed: float = 1.0  # simulated seconds per wall second; 0: as fast as possible
    mqtt: MqttOptions = field(default_factory=MqttOptions)
    http: HttpOptions = field(default_factory=HttpOptions)
    api_keys: Mapping[str, str] = field(default_factory=dict)
    ack_timeout_s: float = 120.0
    output: TextIO | None = None  # dry run: where the JSON lines go


class Pacer:
    """Wall-clock delays that keep simulated time running at ``speed`` from the first message on."""

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._origin: tuple[float, int] | None = None

    def delay_s(self, at_ms: int) -> float:
        if self.speed <= 0:
            return 0.0
        if self._origin is None:
            self._origin = (time.monotonic(), at_ms)
        wall, simulated = self._origin
        return max(0.0, wall + (at_ms - simulated) / 1000.0 / self.speed - time.monotonic())


def stream_line(message: Outgoing) -> str:
    """One message as a JSON line (``--dry-run``): the same seed and start give the same lines."""
    try:
        text: str | None = message.payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    entry: dict[str, object] = {"at_ms": message.at_ms, "device": message.device.id, "format": message.format}
    if message.sendable:
        entry |= {"topic": message.topic, "payload": text}
        if text is None:
            entry["payload_base64"] = base64.b64encode(message.payload).decode()
    if message.fault is not None:
        entry["fault"] = str(message.fault)
    if message.skipped:
        entry["reports_left_out"] = message.skipped
    if message.reject is not None:
        entry["reject"] = message.reject
    elif message.sendable:
        stored = () if message.repeat else message.readings
        entry["stores"] = [[r.quantity, r.value, r.time_ns] for r in stored]  # time_ns null: the receive time
    return json.dumps(entry, ensure_ascii=False)


def deliver(messages: Iterable[Outgoing], delivery: Delivery, summary: Summary, total: int | None = None) -> Summary:
    """Send the stream, fill in ``summary``; returns it (also after Ctrl-C, marked interrupted)."""
    started = time.monotonic()
    progress = tqdm(
        total=total, unit="msg", file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True, leave=False
    )
    try:
        if delivery.transport == DRY_RUN:
            _dry_run(messages, delivery.output or sys.stdout, summary, progress)
        elif delivery.transport == MQTT:
            _mqtt(messages, delivery, summary, progress)
        else:
            _http(messages, delivery, summary, progress)
    finally:
        progress.close()
        summary.wall_s = time.monotonic() - started
    return summary


def _counted(messages: Iterable[Outgoing], summary: Summary) -> Iterator[Outgoing]:
    for message in messages:
        summary.record(message)
        yield message


def _dry_run(messages: Iterable[Outgoing], out: TextIO, summary: Summary, progress: tqdm[Any]) -> None:
    for message in _counted(messages, summary):
        out.write(stream_line(message) + "\n")
        progress.update(message.sendable)
    summary.acknowledged = summary.sent


def _mqtt(messages: Iterable[Outgoing], delivery: Delivery, summary: Summary, progress: tqdm[Any]) -> None:
    publisher = MqttPublisher(delivery.mqtt)
    publisher.connect()
    pacer = Pacer(delivery.speed)
    try:
        for message in messages:
            if message.sendable:
                pause = pacer.delay_s(message.at_ms)
                if pause > 0:
                    time.sleep(pause)
                publisher.publish(message.topic, message.payload)
                progress.update(1)
                if publisher.published % 500 == 0:
                    progress.set_postfix(acked=publisher.acked, refresh=False)
            summary.record(message)
        publisher.wait_acked(delivery.ack_timeout_s)
    except KeyboardInterrupt:
        summary.interrupted = True
        publisher.wait_acked(_INTERRUPT_GRACE_S)
    finally:
        summary.acknowledged = publisher.acked
        summary.refused = publisher.refused
        summary.refusals = dict(publisher.refusals)
        summary.reconnects = publisher.reconnects
        publisher.close()


def _http(messages: Iterable[Outgoing], delivery: Delivery, summary: Summary, progress: tqdm[Any]) -> None:
    sender = HttpSender(delivery.http, delivery.api_keys)
    pacer = Pacer(delivery.speed)

    async def wait_until(message: Outgoing) -> None:
        pause = pacer.delay_s(message.at_ms)
        if pause > 0:
            await asyncio.sleep(pause)

    def answered() -> None:
        progress.update(1)

    try:
        asyncio.run(sender.run(_counted(messages, summary), wait_until, answered))
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        stats = sender.stats
        summary.acknowledged = stats.acknowledged
        summary.refused = sum(stats.refused.values()) + stats.failed
        summary.refusals = {f"HTTP {status}": count for status, count in stats.refused.items()}
        if stats.failed:
            summary.refusals["no answer"] = stats.failed
        summary.http = {
            "accepted": stats.accepted,
            "rejected": dict(stats.rejected),
            "refused": {str(status): count for status, count in stats.refused.items()},
            "failed": stats.failed,
            "retried_429": stats.retried_429,
            "unexpected": stats.unexpected[:20],
            "unexpected_count": len(stats.unexpected),
        }
