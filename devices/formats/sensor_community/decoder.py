"""Decoder of the airrohr firmware's "send to own API" JSON on ``<root>/<device>/airrohr``.

The firmware POSTs ``{"esp8266id", "software_version", "sensordatavalues": [{"value_type", "value"}]}``
with every value a string; an HTTP-to-MQTT bridge forwards it unchanged. Diagnostics and values without
a catalog quantity are left out by name (value_types.IGNORED); a value_type nobody knows rejects the
message, so a new sensor is noticed instead of silently dropped.
"""

from __future__ import annotations

import math
import re

from pydantic_core import from_json

from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.base import Decoded, FormatContext, Message, RawReading
from iot_suitcase.devices.formats.sensor_community.value_types import IGNORED, RANK, VALUE_TYPES
from iot_suitcase.devices.formats.unique_keys import check_unique_keys, count_keys
from iot_suitcase.devices.reading import check_device_id

TOPIC_LEVEL = "airrohr"
# The firmware names a station "esp8266-<chip id>" (SENSOR_BASENAME in its X-Sensor header).
DEVICE_PREFIX = "esp8266-"
TOP_LEVEL_FIELDS = frozenset({"esp8266id", "software_version", "sensordatavalues", "age"})
ENTRY_FIELDS = frozenset({"value_type", "value"})
# The firmware prints floats with Arduino's String(float): "-94", "20.47"; exponents are accepted too.
NUMBER = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*")
_NOT_FINITE = re.compile(r"\s*[-+]?(?:nan|inf|infinity|ovf)\s*", re.IGNORECASE)
_JSON_TYPES = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "an array"}


class SensorCommunityFormat:
    """sensor.community (luftdaten.info) stations: PM, climate and noise values as strings."""

    name = "sensor_community"
    summary = "sensor.community airrohr JSON on <root>/<device>/airrohr"
    content_types: tuple[str, ...] = ("application/json",)

    def topic_filters(self, context: FormatContext) -> list[str]:
        return [f"{context.topic_root}/+/{TOPIC_LEVEL}"]

    def matches_topic(self, topic: str, context: FormatContext) -> bool:
        levels = topic.split("/")
        return len(levels) == 3 and levels[0] == context.topic_root and levels[2] == TOPIC_LEVEL

    def sniff(self, payload: bytes) -> bool:
        return payload.lstrip()[:1] == b"{" and b'"sensordatavalues"' in payload

    def decode(self, message: Message, context: FormatContext) -> Decoded:
        topic_device = None
        if message.sender is not None:
            topic_device = check_device_id(message.sender)
        elif message.topic is not None and self.matches_topic(message.topic, context):
            topic_device = check_device_id(message.topic.split("/")[1])
        try:
            body = _load(message.payload)
            extras = _extras(body)
            device_id = topic_device or _device_from_chip_id(body.get("esp8266id"))
            readings = _readings(body["sensordatavalues"])
        except DecodeError as error:
            error.device_id = error.device_id or topic_device
            raise
        return Decoded(device_id=device_id, readings=readings, extras=extras)


def _load(payload: bytes) -> dict[str, object]:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodeError(RejectCode.NOT_UTF8, f"payload is not UTF-8: {error.reason} at byte {error.start}") from None
    try:
        body = from_json(text, allow_inf_nan=False)
    except ValueError as error:
        raise DecodeError(RejectCode.MALFORMED_JSON, f"payload is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise DecodeError(RejectCode.WRONG_TYPE, f"payload: expected a JSON object, got {_json_type(body)}")
    check_unique_keys(payload, count_keys(body))
    unknown = sorted(set(body) - TOP_LEVEL_FIELDS)
    if unknown:
        raise DecodeError(
            RejectCode.UNKNOWN_FIELD,
            f"unknown field {unknown[0][:40]!r}; the airrohr JSON has {', '.join(sorted(TOP_LEVEL_FIELDS))}",
        )
    if "sensordatavalues" not in body:
        raise DecodeError(RejectCode.MISSING_FIELD, "sensordatavalues: field required")
    return body


def _device_from_chip_id(chip_id: object) -> str:
    if chip_id is None or chip_id == "":
        raise DecodeError(
            RejectCode.MISSING_DEVICE, 'no device id: publish on <root>/<device>/airrohr or send "esp8266id"'
        )
    return check_device_id(f"{DEVICE_PREFIX}{_string(chip_id, 'esp8266id')}")


def _readings(entries: object) -> list[RawReading]:
    if not isinstance(entries, list):
        raise DecodeError(RejectCode.WRONG_TYPE, f"sensordatavalues: expected an array, got {_json_type(entries)}")
    best: dict[str, tuple[int, str, RawReading]] = {}
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        value_type, raw = _entry(entry, index)
        where = f"sensordatavalues[{index}] ({value_type[:40]})"
        if value_type in seen:
            raise DecodeError(RejectCode.DUPLICATE_READING, f"{where}: value_type sent twice")
        seen.add(value_type)
        if value_type in IGNORED:
            continue
        known = VALUE_TYPES.get(value_type)
        if known is None:
            raise DecodeError(
                RejectCode.UNKNOWN_QUANTITY,
                f"{where}: unknown value_type; known: {', '.join(sorted(VALUE_TYPES))} "
                f"(left out: {', '.join(sorted(IGNORED))})",
            )
        reading = RawReading(known.quantity, _number(raw, where), known.unit)
        rank = RANK[value_type]
        if known.quantity not in best or rank < best[known.quantity][0]:
            best[known.quantity] = (rank, value_type, reading)
    if not best:
        raise DecodeError(
            RejectCode.NO_READINGS, "sensordatavalues has no value with a catalog quantity (only diagnostics)"
        )
    return [reading for _rank, _name, reading in best.values()]


def _entry(entry: object, index: int) -> tuple[str, object]:
    where = f"sensordatavalues[{index}]"
    if not isinstance(entry, dict):
        raise DecodeError(RejectCode.WRONG_TYPE, f"{where}: expected an object, got {_json_type(entry)}")
    for field in sorted(ENTRY_FIELDS):
        if field not in entry:
            raise DecodeError(RejectCode.MISSING_FIELD, f"{where}.{field}: field required")
    unknown = sorted(set(entry) - ENTRY_FIELDS)
    if unknown:
        raise DecodeError(RejectCode.UNKNOWN_FIELD, f"{where}: unknown field {unknown[0][:40]!r}")
    value_type = entry["value_type"]
    if not isinstance(value_type, str):
        raise DecodeError(RejectCode.WRONG_TYPE, f"{where}.value_type: expected a string, got {_json_type(value_type)}")
    return value_type, entry["value"]


def _number(raw: object, where: str) -> float:
    """The firmware sends numbers as strings; a JSON number is accepted as well."""
    if isinstance(raw, str):
        if _NOT_FINITE.fullmatch(raw):
            raise DecodeError(RejectCode.NOT_FINITE, f"{where}: value {raw.strip()!r} is not a finite number")
        if not NUMBER.fullmatch(raw):
            raise DecodeError(RejectCode.WRONG_TYPE, f"{where}: value {raw[:40]!r} is not a number")
        value = float(raw)
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
    else:
        raise DecodeError(RejectCode.WRONG_TYPE, f"{where}: value must be a numeric string, got {_json_type(raw)}")
    if not math.isfinite(value):
        raise DecodeError(RejectCode.NOT_FINITE, f"{where}: value is not a finite number")
    return value


def _extras(body: dict[str, object]) -> dict[str, str]:
    """The station's chip id and firmware version, for the logs; neither is a reading."""
    return {field: _string(body[field], field)[:64] for field in ("esp8266id", "software_version") if field in body}


def _string(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise DecodeError(RejectCode.WRONG_TYPE, f"{field}: expected a string, got {_json_type(value)}")
    return value


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), "an object")
