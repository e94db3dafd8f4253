"""Decoder of the native format: topic ``<root>/<device_id>/up``, payload ``NativePayload``."""

from __future__ import annotations

from math import isfinite
from typing import Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails, from_json

from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.base import Decoded, FormatContext, Message, Plain, RawReading
from iot_suitcase.devices.formats.native.schema import NativePayload, ValueWithUnit
from iot_suitcase.devices.formats.unique_keys import check_unique_keys
from iot_suitcase.devices.reading import check_device_id
from iot_suitcase.devices.timestamps import parse_timestamp

UPLINK_LEVEL = "up"

_CODES_BY_PYDANTIC_TYPE = {
    "json_invalid": RejectCode.MALFORMED_JSON,
    "json_type": RejectCode.MALFORMED_JSON,
    "finite_number": RejectCode.NOT_FINITE,
    "missing": RejectCode.MISSING_FIELD,
    "extra_forbidden": RejectCode.UNKNOWN_FIELD,
    "too_short": RejectCode.NO_READINGS,
    "string_pattern_mismatch": RejectCode.INVALID_DEVICE_ID,
}
# Union members that pydantic names in error locations; a person reading the reason does not need them.
_JSON_TYPE_NAMES = {
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "a boolean",
    "list": "an array",
    "dict": "an object",
    "NoneType": "null",
}
# What the plain path reads itself (``unwrap_plain``): any other key, value or time type goes to the model.
_PLAIN_KEYS: Final = frozenset({"readings", "time", "device"})
_TIME_TYPES: Final = (str, int, float)
_UNION_MEMBERS = {"float", "str", "int", "ValueWithUnit", "constrained-str"}


class NativeFormat:
    """The platform's own JSON: several readings per message, optional time, optional units."""

    name = "native"
    summary = "iot-suitcase native JSON on <root>/<device>/up"
    content_types: tuple[str, ...] = ("application/json",)

    def topic_filters(self, context: FormatContext) -> list[str]:
        return [f"{context.topic_root}/+/{UPLINK_LEVEL}"]

    def matches_topic(self, topic: str, context: FormatContext) -> bool:
        levels = topic.split("/")
        return len(levels) == 3 and levels[0] == context.topic_root and levels[2] == UPLINK_LEVEL

    def sniff(self, payload: bytes) -> bool:
        return payload.lstrip()[:1] == b"{" and b'"readings"' in payload

    def decode(self, message: Message, context: FormatContext) -> Decoded:
        topic_device = None
        if message.sender is not None:
            topic_device = check_device_id(message.sender)
        elif message.topic is not None:
            topic_device = check_device_id(message.topic.split("/")[1])
        try:
            payload = NativePayload.model_validate_json(message.payload)
        except ValidationError as error:
            raise _decode_error(error, topic_device) from None
        readings = []
        keys = len(payload.model_fields_set) + len(payload.readings)  # every key pydantic kept (unique_keys.py)
        for quantity, value in payload.readings.items():
            if isinstance(value, ValueWithUnit):
                keys += len(value.model_fields_set)
                readings.append(RawReading(quantity, value.value, value.unit))
            else:
                readings.append(RawReading(quantity, value))
        try:
            check_unique_keys(message.payload, keys)
        except DecodeError as error:
            error.device_id = topic_device or payload.device
            raise
        device_id = _device_id(topic_device, payload.device)
        try:
            time = None if payload.time is None else parse_timestamp(payload.time)
        except DecodeError as error:
            error.device_id = device_id
            raise
        return Decoded(device_id=device_id, readings=readings, time=time)

    def unwrap_plain(self, sender: str, payload: bytes) -> Plain | None:
        """``decode`` of a message on ``sender``'s uplink topic that holds numbers only (no units) and names no
        other device, without the objects ``decode`` builds; None for any other (``test_plain.py``).

        The payload is parsed by pydantic's own JSON parser without the model (a third of the cost); only what
        the model would take as it is goes on (``_plain_parts``), anything else is the model's to judge."""
        try:
            document = from_json(payload, allow_inf_nan=False)
            parts = _plain_parts(document, sender)
            if parts is None:
                return None
            values, stated = parts
            check_unique_keys(payload, len(document) + len(values))
            return (None if stated is None else parse_timestamp(stated)), values
        except (ValueError, DecodeError, OverflowError):  # not JSON; a repeated key or a bad time; a huge int
            return None


def _plain_parts(document: object, sender: str) -> tuple[dict[str, float], str | float | None] | None:
    """The readings and stated time of a parsed payload that the model would take as it is: an object of at
    most ``readings`` (JSON numbers only), ``time`` and ``device`` (the sender's id); None for any other."""
    if type(document) is not dict or not document.keys() <= _PLAIN_KEYS:
        return None
    values, device, stated = document.get("readings"), document.get("device"), document.get("time")
    if type(values) is not dict or not values or (device is not None and device != sender):
        return None
    if stated is not None and type(stated) not in _TIME_TYPES:
        return None
    for value in values.values():
        kind = type(value)  # 1e999 parses as inf, a long int overflows a float: the model refuses both
        if (kind is not float and kind is not int) or not isfinite(value):
            return None
    return values, stated


def _device_id(topic_device: str | None, payload_device: str | None) -> str:
    if topic_device is None:
        if payload_device is None:
            raise DecodeError(RejectCode.MISSING_DEVICE, 'no device id: publish on <root>/<device>/up or set "device"')
        return payload_device
    if payload_device is not None and payload_device != topic_device:
        raise DecodeError(
            RejectCode.DEVICE_MISMATCH,
            f"payload claims device {payload_device!r} but was sent on the topic of {topic_device!r}",
            device_id=topic_device,
        )
    return topic_device


def _decode_error(error: ValidationError, device_id: str | None) -> DecodeError:
    """Turn pydantic's first error into one specific reject code and a short, readable reason."""
    details = error.errors(include_url=False)
    # In a union (number | {"value", "unit"}) the deepest error is the one that says what went wrong.
    first = max(details, key=lambda detail: len(detail["loc"]))
    code = _CODES_BY_PYDANTIC_TYPE.get(first["type"], RejectCode.WRONG_TYPE)
    return DecodeError(code, _reason(first, code), device_id=device_id)


def _reason(detail: ErrorDetails, code: RejectCode) -> str:
    if code is RejectCode.MALFORMED_JSON:
        return f"payload is not valid JSON: {detail['msg'].removeprefix('Invalid JSON: ')}"
    path = ".".join(str(part) for part in detail["loc"] if part not in _UNION_MEMBERS) or "payload"
    if code is RejectCode.WRONG_TYPE:
        got = _JSON_TYPE_NAMES.get(type(detail["input"]).__name__, "something else")
        expected = {
            "readings": "an object of quantity: value",
            "time": "an RFC 3339 string or epoch number",
            "device": "a string",
            "payload": "a JSON object",
        }.get(path, 'a number or {"value": number, "unit": string}')
        if path.startswith("readings.") and path.endswith((".value", ".unit")):
            expected = "a number" if path.endswith(".value") else "a string"
        return f"{path}: expected {expected}, got {got}"
    if code is RejectCode.NOT_FINITE:
        return f"{path}: must be a finite number (NaN and Infinity are not allowed)"
    if code is RejectCode.NO_READINGS:
        return "readings is empty: send at least one quantity"
    return f"{path}: {detail['msg']}"
