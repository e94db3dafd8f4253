"""Payload formats: one folder each; registering a format is one line in ``FORMATS``."""

from __future__ import annotations

from devices.formats.base import Decoded, FormatContext, Message, PayloadFormat, RawReading
from devices.formats.native import NativeFormat

FORMATS: dict[str, PayloadFormat] = {fmt.name: fmt for fmt in (NativeFormat(),)}

__all__ = ["FORMATS", "Decoded", "FormatContext", "Message", "PayloadFormat", "RawReading"]
