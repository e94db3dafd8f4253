"""ChirpStack v4 MQTT integration uplinks (see README.md in this folder)."""

from iot_suitcase.devices.formats.chirpstack.decoder import ChirpStackFormat

FORMAT = ChirpStackFormat()

__all__ = ["FORMAT", "ChirpStackFormat"]
