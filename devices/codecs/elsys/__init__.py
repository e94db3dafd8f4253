"""Elsys LoRaWAN sensors (ERS, ELT and EMS families): one generic payload format for every model."""

from iot_suitcase.devices.codecs.base import Codec
from iot_suitcase.devices.codecs.elsys.codec import ElsysCodec

CODEC: Codec = ElsysCodec()

__all__ = ["CODEC", "ElsysCodec"]
