"""The native iot-suitcase format (see README.md in this folder)."""

from iot_suitcase.devices.formats.native.decoder import NativeFormat
from iot_suitcase.devices.formats.native.schema import NativePayload

FORMAT = NativeFormat()

__all__ = ["FORMAT", "NativeFormat", "NativePayload"]
