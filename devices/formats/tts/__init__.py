"""The Things Stack v3 uplinks (see README.md in this folder)."""

from iot_suitcase.devices.formats.tts.decoder import TheThingsStackFormat

FORMAT = TheThingsStackFormat()

__all__ = ["FORMAT", "TheThingsStackFormat"]
