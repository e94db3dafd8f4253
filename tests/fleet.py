"""A test fleet whose every reading can be checked point by point, and a paced background publisher.

Each device's values are unique per message number, so the multiset of (quantity, device, value, device
time or None) identifies every message: a lost message is a missing key, a duplicate is a count of 2.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from iot_suitcase.servers import InfluxDB
from tests.helpers import unique

Key = tuple[str, str, float, int | None]


@dataclass(frozen=True, slots=True)
class Sent:
    topic: str
    payload: bytes
    keys: tuple[Key, ...]


def fleet(root: str, devices: int, per_device: int, prefix: str = "dev-") -> list[Sent]:
    """Messages of ``devices`` x ``per_device``, interleaved; every other one without a device timestamp."""
    base = datetime.now(UTC) - timedelta(hours=2)
    sent = []
    for k in range(per_device):
        for d in range(devices):
            device = f"{prefix}{d:03d}"
            temperature = round(-20 + k * 0.25, 2)
            humidity = round((k % 200) * 0.5, 1)
            body: dict[str, object] = {"readings": {"temperature": temperature, "humidity": humidity}}
            stamp = None
            if (k + d) % 2 == 0:
                moment = base + timedelta(seconds=k, milliseconds=d)
                body["time"] = moment.isoformat().replace("+00:00", "Z")
                stamp = int(moment.timestamp()) * 10**9 + moment.microsecond * 1000
            keys = (("temperature", device, temperature, stamp), ("humidity", device, humidity, stamp))
            sent.append(Sent(f"{root}/{device}/up", json.dumps(body).encode(), keys))
    return sent


def expected(messages: list[Sent]) -> Counter[Key]:
    return Counter(key for message in messages for key in message.keys)


def observed(influxdb: InfluxDB, db: str, want: Counter[Key]) -> Counter[Key]:
    """Points in the database as keys; a receive-time point is matched by value (its time is not known)."""
    stamped = {key for key in want if key[3] is not None}
    seen: Counter[Key] = Counter()
    for measurement in ("temperature", "humidity"):
        for row in influxdb.points(db, measurement):
            key: Key = (measurement, row["device"], row["value"], row["time"])
            seen[key if key in stamped else (measurement, row["device"], row["value"], None)] += 1
    return seen


class StreamPublisher(threading.Thread):
    """Publishes at a steady rate with QoS 1 and a persistent session, so it resends across broker restarts."""

    def __init__(self, host: str, port: int, messages: list[Sent], rate: float) -> None:
        super().__init__(daemon=True)
        self.messages = messages
        self.rate = rate
        self.published = 0
        self.acked = 0
        self._lock = threading.Lock()
        self.client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=unique("stream-"),
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(200)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_publish = self._on_publish
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 600
        self.client.connect(host, port, clean_start=False, properties=properties)
        self.client.loop_start()

    def _on_publish(self, *_args: object) -> None:
        with self._lock:
            self.acked += 1

    def run(self) -> None:
        start = time.monotonic()
        for index, message in enumerate(self.messages):
            pause = start + index / self.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.client.publish(message.topic, message.payload, qos=1)
            self.published += 1

    def wait_published(self, count: float, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.published < count:
            assert time.monotonic() < deadline, f"only {self.published} of {count} published in time"
            time.sleep(0.01)

    def finish(self, timeout: float = 120) -> None:
        """Wait until every message was published and acknowledged by the broker."""
        self.join(timeout)
        deadline = time.monotonic() + timeout
        while self.acked < len(self.messages) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.client.disconnect()
        self.client.loop_stop()
        assert self.acked >= len(self.messages), f"broker acked {self.acked} of {len(self.messages)}"
