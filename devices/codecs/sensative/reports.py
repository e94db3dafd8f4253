"""The report items of a Sensative Strips uplink: type byte -> data size and what it means in the catalog.

Every item must be sized, even the ones left out, because items follow each other without lengths. Bit 7
of the type byte only marks an item that also went into the device's history log, so it is masked off.
Sizes and meanings follow Sensative's reference translator (Sensative/strips-lora-translator-open-source,
raw-translate.js and the STRIPS_REPORTS table of strips-translate.js).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from iot_suitcase.devices.reading import RawReading

HISTORY_BIT = 0x80

Read = Callable[[bytes], list[RawReading]]


def _nothing(_data: bytes) -> list[RawReading]:
    return []


def _battery(data: bytes) -> list[RawReading]:
    return [RawReading("battery", float(data[0]), "%")]


def _temperature(data: bytes) -> list[RawReading]:
    return [RawReading("temperature", int.from_bytes(data, "big", signed=True) / 10, "degC")]


def _humidity(data: bytes) -> list[RawReading]:
    return [RawReading("humidity", data[0] / 2, "%")]


def _lux(data: bytes) -> list[RawReading]:
    return [RawReading("illuminance", float(int.from_bytes(data, "big")), "lux")]


def _door(data: bytes) -> list[RawReading]:
    return [RawReading("door_open", 1.0 if data[0] else 0.0, "count")]


def _flood(data: bytes) -> list[RawReading]:
    return [RawReading("water_leak_level", float(data[0]), "%")]


def _flood_alarm(data: bytes) -> list[RawReading]:
    return [RawReading("water_leak", 1.0 if data[0] else 0.0, "count")]


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    size: int
    read: Read = _nothing  # the default: a report without a catalog quantity, skipped


REPORTS: dict[int, Report] = {
    0: Report("empty frame", 0),
    1: Report("battery", 1, _battery),
    2: Report("temperature", 2, _temperature),
    3: Report("temperature alarm", 1),
    4: Report("average temperature", 2),
    5: Report("average temperature alarm", 1),
    6: Report("humidity", 1, _humidity),
    7: Report("lux", 2, _lux),
    8: Report("lux (second range)", 2),
    9: Report("door", 1, _door),
    10: Report("door alarm", 1),
    11: Report("tamper report", 1),
    12: Report("tamper alarm", 1),
    13: Report("flood", 1, _flood),
    14: Report("flood alarm", 1, _flood_alarm),
    15: Report("foil alarm", 1),
    16: Report("user switch 1 alarm", 1),
    17: Report("door count", 2),
    18: Report("presence", 1),
    19: Report("IR proximity", 2),
    20: Report("IR close proximity", 2),
    21: Report("close proximity alarm", 1),
    22: Report("disinfect alarm", 1),
    80: Report("humidity and temperature", 3, lambda data: _humidity(data[:1]) + _temperature(data[1:])),
    81: Report("humidity and average temperature", 3, lambda data: _humidity(data[:1])),
    82: Report("door and temperature", 3, lambda data: _door(data[:1]) + _temperature(data[1:])),
    110: Report("firmware version and debug counters", 8),
    112: Report("flood capacitance", 2),
    113: Report("pad capacitance", 2),
    114: Report("end capacitance", 2),
}
