"""Milesight IoT LoRaWAN sensors: the channel-id / channel-type payloads of the AM300, EM300, EM310, EM400 and WS302."""

from iot_suitcase.devices.codecs.milesight_iot.codec import MilesightCodec

CODEC = MilesightCodec()

__all__ = ["CODEC", "MilesightCodec"]
