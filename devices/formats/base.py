"""What a payload format plugin is: topic matching, payload sniffing, and decoding to raw readings.

A format only understands its envelope; the shared pipeline (devices/decode.py) does the rest once for
all formats: catalog lookup, unit conversion, range checks, timestamps. So adding a format means one
folder with its decoder, encoder, README, test vectors and tests, plus one line in devices/formats/__init__.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from iot_suitcase.devices.reading import RESERVED_PREFIX, RawReading

__all__ = [
    "Decoded",
    "Encoded",
    "FormatContext",
    "Message",
    "PayloadFormat",
    "Plain",
    "PlainFormat",
    "RawReading",
    "Sent",
    "network_prefix",
]

# The topic level under a tenant's root where its network servers publish: no device id can be it, so no
# device of the tenant's can write there.
NETWORK_LEVEL = f"{RESERVED_PREFIX}ns"


def network_prefix(topic_root: str, tenant: str | None) -> str:
    """Where a scope's network-server topics begin: nowhere for the installation's own (ChirpStack's
    ``application/...``, The Things Stack's ``v3/...`` and ``tts/...``, as the network servers publish them by
    default), ``<root>/suitcase-ns/`` for a tenant's, under its own root where no other tenant reaches."""
    return "" if tenant is None else f"{topic_root}/{NETWORK_LEVEL}/"


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
    skipped: int = 0  # values the format read past on purpose (a SenML string record): counted, not stored


@dataclass(frozen=True, slots=True)
class FormatContext:
    """What a format may need to know beyond the message itself."""

    topic_root: str
    # device id or LoRaWAN DevEUI (lower-case hex) -> "vendor/model", to pick the codec for raw bytes
    device_models: Mapping[str, str] = field(default_factory=dict)
    # where the network servers' topics begin (network_prefix): "" for the installation's own
    network_prefix: str = ""

    def network_topic(self, topic: str) -> str | None:
        """A network server's topic as its format knows it (without this scope's prefix), or None."""
        return topic[len(self.network_prefix) :] if topic.startswith(self.network_prefix) else None


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


# What a format reads from its commonest message when that is all it says: the time stated (None: none)
# and each quantity's number in its canonical unit, the sender being the device of the topic.
Plain = tuple[datetime | None, Mapping[str, float]]


@runtime_checkable
class PlainFormat(PayloadFormat, Protocol):
    """A format that can read its commonest message without building a ``Decoded`` (the ingest hot path)."""

    def unwrap_plain(self, sender: str, payload: bytes) -> Plain | None:
        """What ``decode`` would give for a message of ``sender`` on its own uplink topic, if it is plain:
        numbers only, no other device; None for any other message (``decode`` then reads it, or says why not).
        Never raises."""
        ...


Sent = tuple[str, float, str | None]  # quantity, value as stated in the message, unit as stated (None: canonical)


@dataclass(frozen=True, slots=True)
class Encoded:
    """One message as a device or network server sends it in a format (what a format's encoder makes):
    its topic, its body (a JSON value, or the text of a bare-text payload), and each reading as stated."""

    topic: str
    body: Any
    sent: tuple[Sent, ...]
    json: bool = True

    def payload(self) -> bytes:
        if not self.json:
            return str(self.body).encode()
        return json.dumps(self.body, separators=(",", ":")).encode()
