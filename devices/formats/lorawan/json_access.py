"""Typed reads of network-server JSON, where every wrong shape is a ``DecodeError`` naming the field's path.

Both network servers emit the protobuf JSON mapping: fields holding their zero value ("", 0, false, empty
lists) are left out, and ``null`` means the same as absent. So a missing number here reads as 0, a missing
list as empty; only fields without which an uplink makes no sense are required.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.unique_keys import check_unique_keys, count_keys

_JSON_KINDS = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
    type(None): "null",
}
# protobuf JSON writes 64-bit integers as decimal strings and parsers accept strings for every integer.
_DECIMAL = re.compile(r"-?[0-9]{1,20}")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]*={0,2}")


def json_kind(value: object) -> str:
    """How a person would call a JSON value's type in an error message."""
    return _JSON_KINDS.get(type(value), "something else")


class _NonFinite(ValueError):
    """JSON's NaN/Infinity extensions, which Python's json accepts but no network server sends."""


def _reject_constant(name: str) -> float:
    raise _NonFinite(name)


def parse_object(payload: bytes, what: str) -> JsonObject:
    """Parse ``payload`` as one JSON object, or raise not_utf8 / malformed_json / not_finite / wrong_type."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodeError(
            RejectCode.NOT_UTF8, f"payload is not UTF-8 text (invalid byte at offset {error.start})"
        ) from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except _NonFinite as error:
        raise DecodeError(RejectCode.NOT_FINITE, f"payload contains {error}, which is not a JSON number") from None
    except json.JSONDecodeError as error:
        raise DecodeError(
            RejectCode.MALFORMED_JSON,
            f"payload is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
        ) from None
    except RecursionError:
        raise DecodeError(RejectCode.MALFORMED_JSON, "payload is not valid JSON: nested too deeply") from None
    except ValueError as error:  # e.g. an integer literal longer than Python's 4300-digit limit
        raise DecodeError(RejectCode.MALFORMED_JSON, f"payload is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise DecodeError(RejectCode.WRONG_TYPE, f"payload: expected a JSON object ({what}), got {json_kind(data)}")
    check_unique_keys(payload, count_keys(data))
    return JsonObject(data, "")


def as_finite(value: object, where: str) -> float | None:
    """A JSON number as a finite float; None when ``value`` is not a number (booleans are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer literal beyond float range
        number = math.inf
    if not math.isfinite(number):
        raise DecodeError(RejectCode.NOT_FINITE, f"{where}: {str(value)[:40]} is not a finite number")
    return number


@dataclass(frozen=True, slots=True)
class JsonObject:
    """One JSON object and its path from the payload's root, for error messages like ``rxInfo[1].rssi``."""

    data: Mapping[str, object]
    path: str

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> object:
        """The raw value, ``None`` when absent or null."""
        return self.data.get(key)

    def _wrong(self, key: str, expected: str, value: object) -> DecodeError:
        return DecodeError(RejectCode.WRONG_TYPE, f"{self.where(key)}: expected {expected}, got {json_kind(value)}")

    def string(self, key: str) -> str | None:
        value = self.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self._wrong(key, "a string", value)

    def require_string(self, key: str, why: str) -> str:
        value = self.string(key)
        if not value:
            raise DecodeError(RejectCode.MISSING_FIELD, f"{self.where(key)}: missing; {why}")
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        """An integer field; absent means 0. Accepts a JSON number or a decimal string, as protobuf JSON does."""
        value = self.get(key)
        if value is None:
            return 0
        number: float | None
        if isinstance(value, str) and _DECIMAL.fullmatch(value):
            number = int(value)
        else:
            number = as_finite(value, self.where(key))
        if number is None or number != int(number):
            raise self._wrong(key, "an integer", value)
        if not low <= number <= high:
            raise DecodeError(RejectCode.OUT_OF_RANGE, f"{self.where(key)}: {int(number)} is outside {low}..{high}")
        return int(number)

    def number(self, key: str) -> float | None:
        """A finite number, or None when absent."""
        value = self.get(key)
        if value is None:
            return None
        number = as_finite(value, self.where(key))
        if number is None:
            raise self._wrong(key, "a number", value)
        return number

    def object(self, key: str) -> JsonObject | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._wrong(key, "an object", value)
        return JsonObject(value, self.where(key))

    def require_object(self, key: str, why: str) -> JsonObject:
        found = self.object(key)
        if found is None:
            raise DecodeError(RejectCode.MISSING_FIELD, f"{self.where(key)}: missing; {why}")
        return found

    def objects(self, key: str) -> list[JsonObject]:
        """A list of objects; absent means empty."""
        value = self.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(key, "an array", value)
        found = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise DecodeError(
                    RejectCode.WRONG_TYPE, f"{self.where(key)}[{index}]: expected an object, got {json_kind(item)}"
                )
            found.append(JsonObject(item, f"{self.where(key)}[{index}]"))
        return found

    def base64_bytes(self, key: str) -> bytes:
        """A protobuf ``bytes`` field: standard or URL-safe base64, padding optional; absent means empty."""
        text = self.string(key)
        if not text:
            return b""
        if not _BASE64.fullmatch(text):
            raise DecodeError(RejectCode.WRONG_TYPE, f"{self.where(key)}: {text[:40]!r} is not base64")
        standard = text.rstrip("=").replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
        except binascii.Error:
            raise DecodeError(RejectCode.WRONG_TYPE, f"{self.where(key)}: {text[:40]!r} is not base64") from None
