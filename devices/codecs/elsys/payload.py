"""The Elsys generic payload: a run of records, each a type byte followed by that type's fixed-size value.

Every Elsys model (ERS, ELT, EMS families) speaks this one format; which types a device sends depends on
its sensors and settings. Records carry no length, so a type this table does not know makes the rest of
the payload unreadable: that is a ``CodecError``, never a guess. This module knows bytes and the vendor's
own field names and scales only; mapping fields to catalog quantities is ``codec.py``'s job.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from iot_suitcase.devices.codecs.base import CodecError


@dataclass(frozen=True, slots=True)
class RecordType:
    """One record type: its byte, the vendor's name, the big-endian layout and the fields it holds.

    A field's value is ``raw / divisor``. Layouts with pad bytes only (``"6x"``) are records that are
    read past but not interpreted (see the README for why).
    """

    code: int
    name: str
    layout: str
    fields: tuple[str, ...] = ()
    divisor: int = 1

    @property
    def size(self) -> int:
        return struct.calcsize(">" + self.layout)

    @property
    def label(self) -> str:
        return f"type 0x{self.code:02x} ({self.name})"


def _type(code: int, name: str, layout: str, *fields: str, divisor: int = 1) -> RecordType:
    """A record type; a one-value type's field is named after the type, a pad-only type has no fields."""
    pad_only = not layout.strip("x0123456789")
    if not fields and not pad_only:
        fields = (name,)
    return RecordType(code, name, layout, fields, divisor)


# From the type list of Elsys' generic decoder (TTN lorawan-devices vendor/elsys/elsys.js, same list in
# the Elsys "Sensor payload" document it cites). All multi-byte values are big-endian.
TYPES: dict[int, RecordType] = {
    t.code: t
    for t in (
        _type(0x01, "temperature", "h", divisor=10),  # 0.1 degC, signed
        _type(0x02, "humidity", "B"),  # %RH
        _type(0x03, "acceleration", "bbb", "acc_x", "acc_y", "acc_z"),  # 63 = 1 g
        _type(0x04, "light", "H"),  # lux
        _type(0x05, "motion", "B"),  # PIR motion count since the previous uplink
        _type(0x06, "co2", "H"),  # ppm
        _type(0x07, "vdd", "H"),  # battery voltage, mV
        _type(0x08, "analog1", "H"),  # mV
        _type(0x09, "gps", "6x"),  # 3 bytes latitude, 3 bytes longitude: read past, see README
        _type(0x0A, "pulse1", "H"),  # pulses since the previous uplink
        _type(0x0B, "pulse1_abs", "I"),  # running pulse total
        _type(0x0C, "external_temperature", "h", divisor=10),  # 0.1 degC, signed
        _type(0x0D, "digital", "B"),  # 0 or 1
        _type(0x0E, "distance", "H"),  # mm
        _type(0x0F, "acc_motion", "B"),  # accelerometer motion count
        _type(0x10, "ir_temperature", "hh", "ir_internal_temperature", "ir_external_temperature", divisor=10),
        _type(0x11, "occupancy", "B"),  # 0 unoccupied, 1 pending (entering or leaving), 2 occupied
        _type(0x12, "waterleak", "B"),  # 0 (dry) .. 255
        _type(0x13, "grideye", "65x"),  # 1 reference byte + 64 pixels: read past, see README
        _type(0x14, "pressure", "I", divisor=1000),  # hPa with 3 decimals
        _type(0x15, "sound", "BB", "sound_peak", "sound_avg"),  # dB
        _type(0x16, "pulse2", "H"),
        _type(0x17, "pulse2_abs", "I"),
        _type(0x18, "analog2", "H"),  # mV
        _type(0x19, "external_temperature2", "h", divisor=10),
        _type(0x1A, "digital2", "B"),
        _type(0x1B, "analog_uv", "i"),  # uV, signed
        _type(0x1C, "tvoc", "H"),  # ppb
        _type(0x3D, "debug", "I"),
    )
}


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded record: its type, where it started, and its fields in the vendor's units."""

    type: RecordType
    offset: int
    values: Mapping[str, float]


def parse(payload: bytes) -> list[Record]:
    """Split ``payload`` into records; raise ``CodecError`` on an unknown type or a truncated value."""
    if not payload:
        raise CodecError("elsys: empty payload")
    records = []
    offset = 0
    while offset < len(payload):
        code = payload[offset]
        record_type = TYPES.get(code)
        if record_type is None:
            raise CodecError(
                f"elsys: unknown type 0x{code:02x} at offset {offset}; records carry no length, "
                f"so the remaining {len(payload) - offset} bytes cannot be read"
            )
        start = offset + 1
        left = len(payload) - start
        if left < record_type.size:
            raise CodecError(
                f"elsys: {record_type.label} needs {record_type.size} bytes at offset {start}, only {left} left"
            )
        raw = struct.unpack_from(">" + record_type.layout, payload, start)
        values = {name: value / record_type.divisor for name, value in zip(record_type.fields, raw, strict=True)}
        records.append(Record(record_type, offset, values))
        offset = start + record_type.size
    return records


def build(records: Sequence[tuple[int, Mapping[str, float]]]) -> bytes:
    """The inverse of ``parse``: (type byte, field values in vendor units) -> payload bytes.

    Values are rounded to the type's resolution; one that does not fit the field raises ``CodecError``.
    """
    out = bytearray()
    for code, values in records:
        record_type = TYPES.get(code)
        if record_type is None:
            raise CodecError(f"elsys: cannot encode unknown type 0x{code:02x}")
        missing = [name for name in record_type.fields if name not in values]
        if missing:
            raise CodecError(f"elsys: {record_type.label} needs values for {', '.join(missing)}")
        raw = []
        for name in record_type.fields:
            value = values[name]
            if not math.isfinite(value):
                raise CodecError(f"elsys: {record_type.label} field {name}: {value} is not a finite number")
            raw.append(round(value * record_type.divisor))
        try:
            out.append(code)
            out += struct.pack(">" + record_type.layout, *raw)
        except struct.error:
            raise CodecError(
                f"elsys: {record_type.label} cannot hold {', '.join(f'{n}={values[n]:g}' for n in record_type.fields)}"
            ) from None
    return bytes(out)
