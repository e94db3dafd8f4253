"""Decentlab LoRaWAN devices (DL-MBX, DL-PM): one generic frame format, one sensor table per model."""

from __future__ import annotations

from iot_suitcase.devices.codecs.decentlab.codec import DecentlabCodec

CODEC = DecentlabCodec()

__all__ = ["CODEC", "DecentlabCodec"]
