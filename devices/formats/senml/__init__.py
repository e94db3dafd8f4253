"""SenML JSON, RFC 8428 (see README.md in this folder)."""

from iot_suitcase.devices.formats.senml.decoder import SenmlFormat

FORMAT = SenmlFormat()

__all__ = ["FORMAT", "SenmlFormat"]
