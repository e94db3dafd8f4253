"""Milesight's uplink channels: the byte layout behind each (channel id, channel type) pair.

A Milesight uplink is a run of ``channel id, channel type, value`` records whose value size and layout
follow from the pair alone, so one table serves both reading and building payloads. Numbers are
little-endian; a part's value is its raw integer divided by the part's divisor.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from iot_suitcase.devices.codecs.base import CodecError

# struct code -> (name, smallest raw value, largest raw value)
_INTEGERS: dict[str, tuple[str, int, int]] = {
    "B": ("uint8", 0, 0xFF),
    "b": ("int8", -0x80, 0x7F),
    "H": ("uint16", 0, 0xFFFF),
    "h": ("int16", -0x8000, 0x7FFF),
    "I": ("uint32", 0, 0xFFFF_FFFF),
    "i": ("int32", -0x8000_0000, 0x7FFF_FFFF),
}


@dataclass(frozen=True, slots=True)
class Part:
    """One field of a channel value: an integer ``code`` (struct code) scaled by ``divisor``.

    A code ending in ``x`` (e.g. ``8x``) is bytes this codec steps over without reading (serial
    numbers, version strings): they carry nothing the platform stores.
    """

    name: str
    code: str
    divisor: float = 1.0

    @property
    def skipped(self) -> bool:
        return self.code.endswith("x")

    @property
    def span(self) -> tuple[float, float]:
        """The smallest and largest value this part can carry."""
        _, low, high = _INTEGERS[self.code]
        return low / self.divisor, high / self.divisor

    def describe(self) -> str:
        kind = _INTEGERS[self.code][0]
        return kind if self.divisor == 1 else f"{kind} / {self.divisor:g}"


@dataclass(frozen=True, slots=True)
class Channel:
    """The value layout of one (channel id, channel type) pair."""

    id: int
    type: int
    label: str
    parts: tuple[Part, ...]

    @property
    def key(self) -> tuple[int, int]:
        return (self.id, self.type)

    @property
    def layout(self) -> str:
        return "<" + "".join(part.code for part in self.parts)

    @property
    def size(self) -> int:
        """Bytes of the value, after the two header bytes."""
        return struct.calcsize(self.layout)

    @property
    def values(self) -> tuple[Part, ...]:
        """The parts that are read (not stepped over)."""
        return tuple(part for part in self.parts if not part.skipped)

    def describe(self) -> str:
        return f"channel 0x{self.id:02x} 0x{self.type:02x} ({self.label})"

    def unpack(self, value: bytes) -> dict[str, float]:
        """Part name -> value, from exactly ``size`` bytes."""
        raws = struct.unpack(self.layout, value)
        return {part.name: raw / part.divisor for part, raw in zip(self.values, raws, strict=True)}

    def record(self, values: Mapping[str, float]) -> bytes:
        """Header and value bytes for ``values`` (part name -> value); CodecError if one does not fit."""
        raws = []
        for part in self.values:
            if part.name not in values:
                raise CodecError(f"milesight: {self.describe()} needs a value for {part.name!r}")
            value = values[part.name]
            _, low, high = _INTEGERS[part.code]
            scaled = value * part.divisor
            raw = round(scaled) if math.isfinite(scaled) else None
            if raw is None or not low <= raw <= high:
                raise CodecError(f"milesight: {part.name} {value:g} does not fit {self.describe()} ({part.describe()})")
            raws.append(raw)
        return bytes(self.key) + struct.pack(self.layout, *raws)


def _one(channel_id: int, channel_type: int, name: str, code: str, divisor: float = 1.0) -> Channel:
    return Channel(channel_id, channel_type, name, (Part(name, code, divisor),))


# Device information, sent after every join and reset; nothing in it is a measurement.
ATTRIBUTES = (
    Channel(0xFF, 0x01, "protocol version", (Part("protocol_version", "x"),)),
    Channel(0xFF, 0x09, "hardware version", (Part("hardware_version", "2x"),)),
    Channel(0xFF, 0x0A, "firmware version", (Part("firmware_version", "2x"),)),
    Channel(0xFF, 0x0B, "power on", (Part("power_on", "x"),)),
    Channel(0xFF, 0x0F, "lorawan class", (Part("lorawan_class", "x"),)),
    Channel(0xFF, 0x16, "serial number", (Part("serial_number", "8x"),)),
    Channel(0xFF, 0xFE, "reset event", (Part("reset_event", "x"),)),
    Channel(0xFF, 0xFF, "tsl version", (Part("tsl_version", "2x"),)),
)

BATTERY = _one(0x01, 0x75, "battery", "B")  # %
HUMIDITY = _one(0x04, 0x68, "humidity", "B", 2)  # %RH, 0.5 steps


def temperature(channel_id: int) -> Channel:
    """Temperature in degC, int16 / 10 (channel 0x03 on most models)."""
    return _one(channel_id, 0x67, "temperature", "h", 10)


def distance(channel_id: int) -> Channel:
    """Distance in mm, uint16 (0x03 on the EM310-UDL, 0x04 on the EM400-UDL)."""
    return _one(channel_id, 0x82, "distance", "H")


# AM300 series (AM307, AM319)
PIR = _one(0x05, 0x00, "pir", "B")  # 0 idle, 1 trigger
ACTIVITY = _one(0x05, 0x6A, "activity", "H")  # the AM100 series' PIR activity level, which AM307 uplinks carry too
LIGHT_LEVEL = _one(0x06, 0xCB, "light_level", "B")  # a level 0..5, not lux
CO2 = _one(0x07, 0x7D, "co2", "H")  # ppm
TVOC = _one(0x08, 0x7D, "tvoc", "H")  # unitless in v1 documents; an IAQ index x 100 in v2 ones
TVOC_MASS = _one(0x08, 0xE6, "tvoc_mass", "H")  # ug/m3
PRESSURE = _one(0x09, 0x73, "pressure", "H", 10)  # hPa
HCHO = _one(0x0A, 0x7D, "hcho", "H", 100)  # mg/m3
PM2_5 = _one(0x0B, 0x7D, "pm2_5", "H")  # ug/m3
PM10 = _one(0x0C, 0x7D, "pm10", "H")  # ug/m3
O3 = _one(0x0D, 0x7D, "o3", "H", 100)  # ppm
BEEP = _one(0x0E, 0x01, "beep", "B")

_AM300_HISTORY = (
    Part("timestamp", "I"),
    Part("temperature", "h", 10),
    Part("humidity", "H", 2),
    Part("pir", "B"),
    Part("light_level", "B"),
    Part("co2", "H"),
)
_AM300_HISTORY_TAIL = (Part("pressure", "H", 10),)
_AM319_HISTORY_TAIL = (*_AM300_HISTORY_TAIL, Part("pm2_5", "H"), Part("pm10", "H"), Part("hcho_or_o3", "H", 100))
# 0x20 carries tVOC as the IAQ reading, 0x21 in ug/m3 (the device's "tvoc unit" setting)
AM307_HISTORY = Channel(0x20, 0xCE, "history", (*_AM300_HISTORY, Part("tvoc", "H"), *_AM300_HISTORY_TAIL))
AM307_HISTORY_TVOC_MASS = Channel(
    0x21, 0xCE, "history, tvoc in ug/m3", (*_AM300_HISTORY, Part("tvoc_mass", "H"), *_AM300_HISTORY_TAIL)
)
AM319_HISTORY = Channel(0x20, 0xCE, "history", (*_AM300_HISTORY, Part("tvoc", "H"), *_AM319_HISTORY_TAIL))
AM319_HISTORY_TVOC_MASS = Channel(
    0x21, 0xCE, "history, tvoc in ug/m3", (*_AM300_HISTORY, Part("tvoc_mass", "H"), *_AM319_HISTORY_TAIL)
)

# EM300-TH
EM300_HISTORY = Channel(
    0x20,
    0xCE,
    "history",
    (Part("timestamp", "I"), Part("temperature", "h", 10), Part("humidity", "B", 2), Part("reserved", "x")),
)

# EM310-UDL and EM400-UDL
POSITION_EM310 = _one(0x04, 0x00, "position", "B")  # 0 normal, 1 tilt
POSITION_EM400 = _one(0x05, 0x00, "position", "B")
TEMPERATURE_ALARM = Channel(0x83, 0x67, "temperature alarm", (Part("temperature", "h", 10), Part("alarm", "B")))
DISTANCE_ALARM = Channel(0x84, 0x82, "distance alarm", (Part("distance", "H"), Part("alarm", "B")))
LOCATION = Channel(
    0x06, 0x88, "location", (Part("longitude", "i", 1e6), Part("latitude", "i", 1e6), Part("motion_status", "B"))
)

# WS302: weighting byte (bits 0-1 frequency weighting, bits 2-3 time weighting), then L, Leq, Lmax in dB
SOUND = Channel(
    0x05,
    0x5B,
    "sound level",
    (Part("weighting", "B"), Part("level", "H", 10), Part("leq", "H", 10), Part("lmax", "H", 10)),
)
