"""Dragino LoRaWAN end nodes (LDDS75 distance sensor, LDS02 door sensor): fixed frames, one module per model."""

from __future__ import annotations

from iot_suitcase.devices.codecs.dragino.codec import DraginoCodec

CODEC = DraginoCodec()

__all__ = ["CODEC", "DraginoCodec"]
