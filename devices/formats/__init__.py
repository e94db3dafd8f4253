"""Payload formats, one folder each; registering a format is one line in ``FORMAT_PACKAGES``.

Each format package exposes ``FORMAT``, an object of the ``PayloadFormat`` protocol (base.py). The order
is the order of auto-detection: topic matching first, then payload sniffing, most specific first.
"""

from __future__ import annotations

from importlib import import_module

from devices.formats.base import Decoded, FormatContext, Message, PayloadFormat, RawReading

FORMAT_PACKAGES: tuple[str, ...] = (
    "native",
    "chirpstack",
    "tts",
    "senml",
    "sensor_community",
    "single_value",
)

FORMATS: dict[str, PayloadFormat] = {
    fmt.name: fmt for fmt in (import_module(f"devices.formats.{name}").FORMAT for name in FORMAT_PACKAGES)
}

__all__ = ["FORMATS", "Decoded", "FormatContext", "Message", "PayloadFormat", "RawReading"]
