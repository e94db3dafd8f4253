"""The native format written, as a device's firmware writes it: the inverse of decoder.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from iot_suitcase.devices.formats.base import Encoded, FormatContext, Sent
from iot_suitcase.devices.formats.native.decoder import UPLINK_LEVEL
from iot_suitcase.devices.timestamps import format_rfc3339


def encode(
    device_id: str, readings: Mapping[str, tuple[float, str | None]], time: datetime | None, context: FormatContext
) -> Encoded:
    """``{"time", "readings"}`` on ``<root>/<device>/up``; a reading with a unit (for example a battery
    voltage in mV, as many firmwares send it) as ``{"value", "unit"}``, one without as a bare number."""
    values: dict[str, Any] = {}
    sent: list[Sent] = []
    for quantity, (value, unit) in readings.items():
        values[quantity] = value if unit is None else {"value": value, "unit": unit}
        sent.append((quantity, float(value), unit))
    body: dict[str, Any] = {"readings": values} if time is None else {"time": format_rfc3339(time), "readings": values}
    return Encoded(f"{context.topic_root}/{device_id}/{UPLINK_LEVEL}", body, tuple(sent))
