"""The native iot-suitcase format (see README.md in this folder)."""

from devices.formats.native.decoder import NativeFormat
from devices.formats.native.schema import NativePayload

__all__ = ["NativeFormat", "NativePayload"]
