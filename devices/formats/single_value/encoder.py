"""Single-value topics written as a sensor writes them: the inverse of decoder.py."""

from __future__ import annotations

from iot_suitcase.devices.formats.base import Encoded, FormatContext


def encode(device_id: str, quantity: str, text: str, unit: str | None, context: FormatContext) -> Encoded:
    """The number ``text`` as the whole payload on ``<root>/<device>/<quantity>``, or ``.../<quantity>/<unit>``
    when it is not in the catalog's unit."""
    topic = f"{context.topic_root}/{device_id}/{quantity}" + ("" if unit is None else f"/{unit}")
    return Encoded(topic, text, ((quantity, float(text), unit),), json=False)
