"""Payload formats, one folder each; registering a format is one line in ``FORMAT_PACKAGES``.

Each format package exposes ``FORMAT``, an object of the ``PayloadFormat`` protocol (base.py). The order
is the order of auto-detection: topic matching first, then payload sniffing, most specific first.
"""

from __future__ import annotations

from importlib import import_module

from iot_suitcase.devices.formats.base import Decoded, FormatContext, Message, PayloadFormat, PlainFormat, RawReading

FORMAT_PACKAGES: tuple[str, ...] = (
    "native",
    "chirpstack",
    "tts",
    "senml",
    "sensor_community",
    "single_value",
)

FORMATS: dict[str, PayloadFormat] = {
    fmt.name: fmt for fmt in (import_module(f"iot_suitcase.devices.formats.{name}").FORMAT for name in FORMAT_PACKAGES)
}


def publish_filters(context: FormatContext, formats: dict[str, PayloadFormat] | None = None) -> list[str]:
    """Every topic the broker lets an account publish on, and so every topic the ingest service subscribes to.

    Everything under the topic root (a device account may write ``<root>/<its id>/#``; what no format reads
    becomes an ``unknown_topic`` reject, never a silent loss), plus the uplink topics of formats that live
    outside the root (the installation's network servers; a tenant's publish under its root). Filters under
    the root are left out: overlapping subscriptions would
    have the broker deliver a message twice.
    """
    root = f"{context.topic_root}/"
    filters = [f"{root}#"]
    for fmt in (FORMATS if formats is None else formats).values():
        for topic in fmt.topic_filters(context):
            if not topic.startswith(root) and topic not in filters:
                filters.append(topic)
    return filters


__all__ = [
    "FORMATS",
    "Decoded",
    "FormatContext",
    "Message",
    "PayloadFormat",
    "PlainFormat",
    "RawReading",
    "publish_filters",
]
