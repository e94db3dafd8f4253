"""Resolve a SenML pack (RFC 8428 section 4.6): base fields applied, types checked, times absolute.

Resolution is pure SenML and knows nothing of the catalog, so it can be checked against the RFC's own
resolved example (section 5.1.4); mapping records to quantities is a separate step (quantities.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic_core import from_json

from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.unique_keys import check_unique_keys, count_keys

# RFC 8428 4.5.3: a time below 2**28 s is relative to "now"; at or above it, seconds since the epoch.
RELATIVE_BELOW = 2.0**28
# RFC 9100: bver is a bitmap of features. Bits 0-3 hold the base version (10 = 0b1010) and bit 4 is
# "secondary units" (RFC 8798), which the catalog's unit tables accept; a higher bit is a feature we
# do not know, and RFC 8428 4.4 says such a pack MUST NOT be used.
UNDERSTOOD_VERSIONS = 2**5
DEFAULT_VERSION = 10
# RFC 8428 4.5.1: the characters of a concatenated name.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./_-]*")
# Datetime cannot represent times past the year 9999; nothing a sensor measures is that late anyway.
_LATEST = 253402300799.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

VALUE_LABELS = ("v", "vs", "vb", "vd")
_REGULAR_LABELS = ("n", "u", "t", "s", *VALUE_LABELS)
_JSON_TYPES = {str: "a string", bool: "a boolean", int: "a number", float: "a number", list: "an array"}


@dataclass(frozen=True, slots=True)
class Record:
    """One resolved record: its full name, unit, absolute time and value(s)."""

    index: int  # position in the pack, for error messages
    name: str
    unit: str | None
    time: datetime
    value: float | None = None  # "v" plus the base value
    other_value: str | None = None  # the label of a string, boolean or data value ("vs", "vb", "vd")
    sum: float | None = None  # "s" plus the base sum
    update_time: float | None = None


@dataclass(slots=True)
class _Base:
    """The base fields in force: each applies until a later record sets it again (RFC 8428 4)."""

    name: str = ""
    time: float = 0.0
    unit: str | None = None
    value: float | None = None
    sum: float | None = None
    version: int | None = None


def load_pack(payload: bytes) -> list[object]:
    """The JSON array of a SenML pack; UTF-8 only (RFC 8428 5), no NaN or Infinity."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodeError(RejectCode.NOT_UTF8, f"payload is not UTF-8: {error.reason} at byte {error.start}") from None
    try:
        pack = from_json(text, allow_inf_nan=False)
    except ValueError as error:
        raise DecodeError(RejectCode.MALFORMED_JSON, f"payload is not valid JSON: {error}") from None
    if not isinstance(pack, list):
        raise DecodeError(RejectCode.WRONG_TYPE, f"a SenML pack is a JSON array of records, got {json_type(pack)}")
    check_unique_keys(payload, count_keys(pack))
    if not pack:
        raise DecodeError(RejectCode.NO_READINGS, "the SenML pack is empty: send at least one record")
    return pack


def resolve(pack: list[object], now: datetime) -> list[Record]:
    """Resolve every record that carries a value or a sum; ``now`` (the receive time) anchors relative times."""
    base = _Base()
    records = []
    for index, raw in enumerate(pack):
        where = f"record {index}"
        if not isinstance(raw, dict):
            raise DecodeError(RejectCode.WRONG_TYPE, f"{where}: expected an object, got {json_type(raw)}")
        _check_labels(raw, where)
        _apply_base(raw, base, where)
        record = _resolve_record(raw, base, index, now)
        if record is not None:
            records.append(record)
    if not records:
        raise DecodeError(RejectCode.NO_READINGS, "no record in the pack has a value (v, vs, vb, vd) or a sum (s)")
    return records


def json_type(value: object) -> str:
    """How a person would name the JSON type of ``value``."""
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), "an object")


def _check_labels(raw: dict[str, object], where: str) -> None:
    for label in raw:
        if label.endswith("_"):
            raise DecodeError(
                RejectCode.UNKNOWN_FIELD,
                f"{where}: must-understand field {label[:40]!r} is not supported (RFC 8428 4.4)",
            )
    present = [label for label in VALUE_LABELS if label in raw]
    if len(present) > 1:
        raise DecodeError(
            RejectCode.WRONG_TYPE, f"{where}: has both {present[0]!r} and {present[1]!r}; a record carries one value"
        )


def _apply_base(raw: dict[str, object], base: _Base, where: str) -> None:
    if "bver" in raw:
        version = raw["bver"]
        if type(version) is not int or version < 1:
            raise DecodeError(RejectCode.WRONG_TYPE, f"{where}: bver must be a positive integer, got {version!r:.40}")
        if base.version is not None and version != base.version:
            raise DecodeError(
                RejectCode.UNSUPPORTED_VERSION,
                f"{where}: bver {version} differs from {base.version}; all records of a pack share one version",
            )
        if version >= UNDERSTOOD_VERSIONS:
            raise DecodeError(
                RejectCode.UNSUPPORTED_VERSION,
                f"{where}: SenML version {version} needs features this platform does not know "
                f"(understood: versions below {UNDERSTOOD_VERSIONS}, RFC 8428 and RFC 8798 units)",
            )
        base.version = version
    if "bn" in raw:
        base.name = _string(raw, "bn", where)
    if "bt" in raw:
        base.time = _number(raw, "bt", where)
    if "bu" in raw:
        base.unit = _string(raw, "bu", where)
    if "bv" in raw:
        base.value = _number(raw, "bv", where)
    if "bs" in raw:
        base.sum = _number(raw, "bs", where)


def _resolve_record(raw: dict[str, object], base: _Base, index: int, now: datetime) -> Record | None:
    where = f"record {index}"
    name = base.name + (_string(raw, "n", where) if "n" in raw else "")
    unit = _string(raw, "u", where) if "u" in raw else base.unit
    value = None
    if "v" in raw:
        value = _finite(_number(raw, "v", where) + (base.value or 0.0), f"{where}: v plus bv")
    other = _other_value(raw, where)
    total = None
    if "s" in raw or base.sum is not None:
        own = _number(raw, "s", where) if "s" in raw else 0.0
        total = _finite(own + (base.sum or 0.0), f"{where}: s plus bs")
    update_time = _number(raw, "ut", where) if "ut" in raw else None
    offset = _number(raw, "t", where) if "t" in raw else 0.0
    if value is None and other is None and total is None:
        if any(label in raw for label in _REGULAR_LABELS):
            raise DecodeError(
                RejectCode.MISSING_FIELD, f"{where} ({name or 'unnamed'}): no value (v, vs, vb, vd) and no sum (s)"
            )
        return None  # a record of base fields only, as in RFC 8428 5.1.7
    if name and not NAME_PATTERN.fullmatch(name):
        raise DecodeError(
            RejectCode.WRONG_TYPE,
            f"{where}: name {name[:80]!r} is not a SenML name (RFC 8428 4.5.1: A-Z a-z 0-9 - : . / _, "
            "starting with a letter or digit)",
        )
    return Record(
        index=index,
        name=name,
        unit=unit,
        time=_absolute_time(base.time + offset, now, where),
        value=value,
        other_value=other,
        sum=total,
        update_time=update_time,
    )


def _other_value(raw: dict[str, object], where: str) -> str | None:
    """Check the type of a string, boolean or data value; the label says which one the record has."""
    for label, kind, expected in (("vs", str, "a string"), ("vb", bool, "a boolean"), ("vd", str, "a string")):
        if label in raw:
            if type(raw[label]) is not kind:
                raise DecodeError(
                    RejectCode.WRONG_TYPE, f"{where}: {label} must be {expected}, got {json_type(raw[label])}"
                )
            return label
    return None


def _absolute_time(time: float, now: datetime, where: str) -> datetime:
    relative = time < RELATIVE_BELOW
    seconds = _finite(now.timestamp() + time if relative else time, f"{where}: time")
    if not 0 <= seconds <= _LATEST:
        raise DecodeError(RejectCode.BAD_TIME, f"{where}: time {seconds:g} s is outside the years 1970..9999")
    # Offsets from the datetime itself, so "now" (t = 0) is exactly the receive time, to the microsecond.
    return now + timedelta(seconds=time) if relative else _EPOCH + timedelta(seconds=time)


def _string(raw: dict[str, object], label: str, where: str) -> str:
    value = raw[label]
    if not isinstance(value, str):
        raise DecodeError(RejectCode.WRONG_TYPE, f"{where}: {label} must be a string, got {json_type(value)}")
    return value


def _number(raw: dict[str, object], label: str, where: str) -> float:
    value = raw[label]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(RejectCode.WRONG_TYPE, f"{where}: {label} must be a number, got {json_type(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    return _finite(number, f"{where}: {label}")


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise DecodeError(RejectCode.NOT_FINITE, f"{what} is not a finite number")
    return value
