"""What a payload format plugin is: topic matching, payload sniffing, and decoding to raw readings.

A format only understands its envelope; the shared pipeline (devices/decode.py) does the rest once for
all formats: catalog lookup, unit conversion, range checks, timestamps. So adding a format means one
folder with its decoder, README, test vectors and tests, plus one line in devices/formats/__init__.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from devices.reading import RawReading

__all__ = ["Decoded", "FormatContext", "Message", "PayloadFormat", "RawReading"]


@dataclass(frozen=True, slots=True)
class Message:
    """A payload as it arrived: with its MQTT topic, or with the device an HTTP request authenticated as.

    ``sender`` is what a topic's device level is for MQTT: the device the transport vouches for, which a
    payload naming another device must not contradict."""

    payload: bytes
    received_at: datetime
    topic: str | None = None
    sender: str | None = None


@dataclass(frozen=True, slots=True)
class Decoded:
    """A format's view of one message: whose it is, when it was measured, and what it says."""

    device_id: str
    readings: list[RawReading]
    time: datetime | None = None
    extras: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FormatContext:
    """What a format may need to know beyond the message itself."""

    topic_root: str
    # device id or LoRaWAN DevEUI (lower-case hex) -> "vendor/model", to pick the codec for raw bytes
    device_models: Mapping[str, str] = field(default_factory=dict)


class PayloadFormat(Protocol):
    """One payload format: its topics, how to recognise it, how to decode it."""

    name: str
    summary: str
    content_types: tuple[str, ...]  # what a device may POST it as over HTTP (none: MQTT only)

    def topic_filters(self, context: FormatContext) -> list[str]:
        """MQTT subscriptions that receive this format."""
        ...

    def matches_topic(self, topic: str, context: FormatContext) -> bool:
        """Whether a message on ``topic`` is in this format."""
        ...

    def sniff(self, payload: bytes) -> bool:
        """A cheap guess from the payload alone, for `suitcase decode` without a topic."""
        ...

    def decode(self, message: Message, context: FormatContext) -> Decoded:
        """Decode or raise ``DecodeError`` with a specific code; never any other exception."""
        ...
