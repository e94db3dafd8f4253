"""The benchmark's messages: native-format readings from a fleet of devices, each point countable.

Every message carries two readings (temperature, humidity) and a device timestamp of its own: device d's
k-th message is stamped ``base + k`` seconds. So (device, time) names exactly one point per measurement,
nothing overwrites anything, and "InfluxDB holds all N messages" is ``count(value) = N`` in each.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.mqtt import publish_packet

TOPIC_ROOT = "suitcase"
MEASUREMENTS = ("temperature", "humidity")
POINTS_PER_MESSAGE = 3  # the two readings, and the suitcase_uplinks point the service adds per message


def device_id(index: int) -> str:
    return f"bench-{index:05d}"


def topic(index: int, root: str = TOPIC_ROOT) -> bytes:
    return f"{root}/{device_id(index)}/up".encode()


def payload(k: int, time_ms: int) -> bytes:
    """Message k of a device: plausible values (so nothing is rejected) and its own device time."""
    temperature = -20 + (k % 480) * 0.25
    humidity = (k % 200) * 0.5
    return b'{"time":%d,"readings":{"temperature":%.2f,"humidity":%.1f}}' % (time_ms, temperature, humidity)


def _values3(k: int) -> tuple[float, float, int]:
    """Temperature, humidity and CO2 of message k: plausible, so nothing is rejected."""
    return -20 + (k % 480) * 0.25, (k % 200) * 0.5, 400 + k % 1600


def payload3(k: int, time_ms: int) -> bytes:
    """Message k with three readings (temperature, humidity, CO2), as the side-by-side comparison sends them."""
    return b'{"time":%d,"readings":{"temperature":%.2f,"humidity":%.1f,"co2":%d}}' % (time_ms, *_values3(k))


def city_payload(k: int, time_ms: int) -> bytes:
    """The same values in the shape the Node-RED reference flow reads (``../shared/peers/README.md``)."""
    return b'{"ts":%.3f,"temperature":%.2f,"humidity":%.1f,"co2":%d}' % (time_ms / 1000, *_values3(k))


CITY_TOPIC_ROOT = "city/aarhus"
FORMS = {  # form -> (topic root, payload of message k)
    "native": (TOPIC_ROOT, payload),
    "native3": (TOPIC_ROOT, payload3),
    "city": (CITY_TOPIC_ROOT, city_payload),
}


@dataclass(frozen=True, slots=True)
class Shard:
    """Devices ``first .. first + devices - 1``, each sending ``per_device`` messages, interleaved by round;
    ``form`` is one of ``FORMS``."""

    first: int
    devices: int
    per_device: int
    base_ms: int
    form: str = "native"

    @property
    def messages(self) -> int:
        return self.devices * self.per_device

    def packets(self) -> list[bytes]:
        """PUBLISH packets in sending order: round k sends message k of every device of the shard."""
        root, make = FORMS[self.form]
        topics = [topic(self.first + d, root) for d in range(self.devices)]
        packets = []
        index = 0
        for k in range(self.per_device):
            body = make(k, self.base_ms + k * 1000)
            for device_topic in topics:
                packets.append(publish_packet(device_topic, index, body))
                index += 1
        return packets

    def last_round_ms(self) -> int:
        """Device time of every device's last message: counting those shows whether the tail has arrived."""
        return self.base_ms + (self.per_device - 1) * 1000


def shards(devices: int, messages: int, publishers: int, base_ms: int, form: str = "native") -> list[Shard]:
    """Split ``devices`` into one shard per publisher; ``messages`` must be a multiple of ``devices``."""
    if messages % devices:
        raise ValueError(f"{messages} messages do not split evenly over {devices} devices")
    per_device = messages // devices
    publishers = max(1, min(publishers, devices))
    bounds = [devices * p // publishers for p in range(publishers + 1)]
    return [Shard(bounds[p], bounds[p + 1] - bounds[p], per_device, base_ms, form) for p in range(publishers)]
