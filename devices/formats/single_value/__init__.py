"""Single-value topics: a bare number on <root>/<device>/<quantity> (see README.md in this folder)."""

from iot_suitcase.devices.formats.single_value.decoder import SingleValueFormat

FORMAT = SingleValueFormat()

__all__ = ["FORMAT", "SingleValueFormat"]
