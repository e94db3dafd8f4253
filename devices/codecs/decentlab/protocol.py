"""Decentlab's generic uplink frame (protocol version 2), independent of the model.

Every Decentlab device sends ``version (1 byte) | device id (2) | sensor flags (2)`` and then, for each flag
bit that is set (bit 0 first), that sensor's big-endian 16-bit words. Only the model knows how many words a
sensor has, so parsing takes the models' word counts; the conversions live in sensors.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from iot_suitcase.devices.codecs.base import CodecError

PROTOCOL_VERSION = 2
HEADER_BYTES = 5
WORD_BYTES = 2
MAX_WORD = 0xFFFF


@dataclass(frozen=True, slots=True)
class Frame:
    """A parsed frame: the device's own id and the 16-bit words of each sensor present, by flag bit."""

    device_id: int
    sensors: dict[int, tuple[int, ...]]


def parse_frame(model: str, payload: bytes, word_counts: Sequence[int]) -> Frame:
    """Split ``payload`` into the words of each flagged sensor; ``word_counts[i]`` is sensor i's word count."""
    if len(payload) < HEADER_BYTES:
        raise CodecError(f"{model}: a frame needs a {HEADER_BYTES}-byte header, got {len(payload)} bytes")
    if payload[0] != PROTOCOL_VERSION:
        raise CodecError(f"{model}: protocol version {payload[0]} at offset 0, only version {PROTOCOL_VERSION} exists")
    device_id = int.from_bytes(payload[1:3], "big")
    flags = int.from_bytes(payload[3:5], "big")
    unknown = flags >> len(word_counts)
    if unknown:
        first = len(word_counts) + (unknown & -unknown).bit_length() - 1
        raise CodecError(f"{model}: sensor flag bit {first} is set, but the model has only {len(word_counts)} sensors")
    sensors: dict[int, tuple[int, ...]] = {}
    offset = HEADER_BYTES
    for index, count in enumerate(word_counts):
        if not flags >> index & 1:
            continue
        end = offset + count * WORD_BYTES
        if end > len(payload):
            raise CodecError(
                f"{model}: sensor {index} needs {count * WORD_BYTES} bytes at offset {offset}, "
                f"only {len(payload) - offset} left"
            )
        sensors[index] = tuple(int.from_bytes(payload[i : i + WORD_BYTES], "big") for i in range(offset, end, 2))
        offset = end
    if offset != len(payload):
        raise CodecError(
            f"{model}: {len(payload) - offset} bytes left over after the last flagged sensor, at offset {offset}"
        )
    return Frame(device_id=device_id, sensors=sensors)


def build_frame(device_id: int, sensors: Mapping[int, Sequence[int]]) -> bytes:
    """The inverse of ``parse_frame``: header, then each sensor's words in flag-bit order."""
    flags = 0
    body = bytearray()
    for index in sorted(sensors):
        flags |= 1 << index
        for word in sensors[index]:
            body += word.to_bytes(WORD_BYTES, "big")
    return bytes([PROTOCOL_VERSION]) + device_id.to_bytes(2, "big") + flags.to_bytes(2, "big") + bytes(body)
