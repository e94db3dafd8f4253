"""Dragino LDS02 door sensor: one 10-byte uplink on fPort 10 (firmware shared with LDS01/LWL02, MOD 1 = door).

``status+battery (2: bit 15 door open, bit 14 water leak, bits 13..0 mV) | MOD (1) | open count (3) |
last open duration min (3) | alarm (1)`` (Dragino's LDS02 decoders). The cumulative open count, the last open
duration and the open-too-long alarm have no catalog quantity and are left out; the door state is kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from iot_suitcase.devices.codecs.base import CodecError
from iot_suitcase.devices.codecs.dragino.frame import (
    battery_volts,
    battery_word,
    check_frame,
    integer_in,
    reject_unknown,
    required,
)
from iot_suitcase.devices.reading import RawReading

MODEL = "dragino/lds02"
FPORT = 10
SIZE = 10
LAYOUT = "status and battery 2, MOD 1, open count 3, last open duration 3, alarm 1"
QUANTITIES = ("battery_voltage", "door_open")

DOOR_OPEN_BIT = 0x8000
DOOR_MODE = 1  # MOD 2 is the water leak mode and MOD 3 door + leak, both for the LWL02 on the same firmware


def decode(fport: int, payload: bytes) -> list[RawReading]:
    check_frame(MODEL, fport, payload, port=FPORT, size=SIZE, layout=LAYOUT)
    if payload[2] != DOOR_MODE:
        raise CodecError(f"{MODEL}: MOD {payload[2]} at offset 2 is not the door sensor mode (MOD {DOOR_MODE})")
    door_open = 1.0 if int.from_bytes(payload[0:2], "big") & DOOR_OPEN_BIT else 0.0
    return [RawReading("battery_voltage", battery_volts(payload), "V"), RawReading("door_open", door_open, "count")]


def encode(fport: int, values: Mapping[str, float]) -> bytes:
    """battery_voltage (V) and door_open (0/1) are in every uplink; counters and alarm are sent as 0."""
    reject_unknown(MODEL, values, QUANTITIES)
    if fport != FPORT:
        raise CodecError(f"{MODEL}: uplinks arrive on fPort {FPORT}, got fPort {fport}")
    status = battery_word(MODEL, values)
    door = required(MODEL, values, "door_open", "the door state")
    if integer_in(MODEL, "door_open", door, low=0, high=1, unit="count"):
        status |= DOOR_OPEN_BIT
    return status.to_bytes(2, "big") + bytes([DOOR_MODE]) + bytes(7)
