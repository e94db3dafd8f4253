"""Dragino LDDS75 ultrasonic distance sensor: one 8-byte uplink on fPort 2.

``battery (2) | distance mm (2) | interrupt flag (1) | DS18B20 temperature (2, signed, 0.1 degC) | sensor flag (1)``
(Dragino's LDDS75 decoder v1.1.4 and user manual). The interrupt flag says why the uplink was sent, not what
was measured, so it is left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from iot_suitcase.devices.codecs.base import CodecError
from iot_suitcase.devices.codecs.dragino.frame import (
    battery_volts,
    battery_word,
    check_frame,
    finite,
    integer_in,
    reject_unknown,
)
from iot_suitcase.devices.reading import RawReading

MODEL = "dragino/ldds75"
FPORT = 2
SIZE = 8
LAYOUT = "battery 2, distance 2, interrupt flag 1, DS18B20 temperature 2, sensor flag 1"
QUANTITIES = ("battery_voltage", "distance", "temperature")

MIN_DISTANCE_MM = 280  # the manual's flat-object range is 280 mm to 7500 mm; shorter words are not measurements
SENSOR_DETECTED = 0x01
# No DS18B20 probe (see README): an idle 1-wire bus scales to 0x0000, firmware that checks sends 0x7FFF
# (327.67). A probe reading exactly 0.0 degC cannot be told from "no probe" and is left out as well.
NO_PROBE = (0x0000, 0x7FFF)


def decode(fport: int, payload: bytes) -> list[RawReading]:
    check_frame(MODEL, fport, payload, port=FPORT, size=SIZE, layout=LAYOUT)
    readings = [RawReading("battery_voltage", battery_volts(payload), "V")]
    distance = int.from_bytes(payload[2:4], "big")
    if payload[7] == SENSOR_DETECTED and distance >= MIN_DISTANCE_MM:
        readings.append(RawReading("distance", float(distance), "mm"))
    probe = int.from_bytes(payload[5:7], "big")
    if probe not in NO_PROBE:
        readings.append(RawReading("temperature", int.from_bytes(payload[5:7], "big", signed=True) / 10, "degC"))
    return readings


def encode(fport: int, values: Mapping[str, float]) -> bytes:
    """battery_voltage (V) is required; distance (mm) and temperature (degC) are sent when given."""
    reject_unknown(MODEL, values, QUANTITIES)
    if fport != FPORT:
        raise CodecError(f"{MODEL}: uplinks arrive on fPort {FPORT}, got fPort {fport}")
    words = [battery_word(MODEL, values), 0]
    flag = 0
    if "distance" in values:
        words[1] = integer_in(MODEL, "distance", values["distance"], low=MIN_DISTANCE_MM, high=0xFFFF, unit="mm")
        flag = SENSOR_DETECTED
    probe = 0
    if "temperature" in values:
        celsius = finite(MODEL, "temperature", values["temperature"])
        probe = integer_in(MODEL, "temperature", celsius * 10, low=-0x8000, high=0x7FFF, unit="0.1 degC") & 0xFFFF
        if probe in NO_PROBE:
            raise CodecError(f"{MODEL}: temperature {celsius:g} degC encodes as {probe:#06x}, which means 'no probe'")
    return b"".join(word.to_bytes(2, "big") for word in words) + bytes([0]) + probe.to_bytes(2, "big") + bytes([flag])
