"""Sensative Strips (LoRaWAN): one device whose profiles (Comfort, Guard, Drip, ...) choose the reports sent."""

from __future__ import annotations

from iot_suitcase.devices.codecs.sensative.codec import SensativeCodec

CODEC = SensativeCodec()

__all__ = ["CODEC", "SensativeCodec"]
