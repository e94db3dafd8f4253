"""Elsys LoRaWAN sensors (ERS, ELT and EMS families): one generic payload format for every model."""

from devices.codecs.base import Codec
from devices.codecs.elsys.codec import ElsysCodec

CODEC: Codec = ElsysCodec()

__all__ = ["CODEC", "ElsysCodec"]
