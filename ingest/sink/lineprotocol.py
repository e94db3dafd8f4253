"""InfluxDB line protocol, written by hand for the ingest hot path.

influxdb-client's ``Point`` builds each line through dict sorts, ``isinstance`` chains, a
timestamp helper and several f-strings; at ~25,000 messages/s that is a noticeable share of a
core.  This module produces exactly the line ``Point(...).to_line_protocol()`` produces for every
input it accepts (``test_lineprotocol.py`` proves it with hypothesis), and raises
:class:`LineProtocolError` for the inputs where ``Point`` silently writes something other than
what it was given, or where InfluxDB 1.6 would store something different or refuse the line.

What is refused, and why (each rule was checked against a real InfluxDB 1.6.7):

* Empty measurement, keys or tag values: ``Point`` silently drops an empty tag and writes
  ``=1`` for an empty field key, which the server cannot parse.
* A measurement starting with ``#``: InfluxDB reads the whole line as a comment and drops it.
* ASCII control characters (U+0000-U+001F, U+007F) in a measurement, key or tag value:
  ``Point`` turns newline, carriage return and tab into the two characters ``\\n``, ``\\r``,
  ``\\t``, which InfluxDB stores literally, and the server's parser skips a NUL at the start of
  a line.  The other control characters do survive in 1.6.7, but they are refused as well: one
  rule for all of them, and a name nobody can see or type in a dashboard is a decoding bug.
  String field values may hold any control character: they are quoted, and they round-trip.
* A trailing backslash in a measurement, key or tag value: it escapes the separator that
  follows, so the line does not parse (for a tag value ``Point`` appends a space, which the
  server then keeps as part of the value).
* In a measurement or key, a backslash right before ``,`` ``=`` space or ``"``: InfluxDB
  unescapes ``\\,`` ``\\=`` ``\\ `` ``\\"`` in measurements and field keys, so the backslash is
  lost (or, in a field key, the line no longer parses).  Tag values round-trip these, so they
  are accepted there.  Tag keys would round-trip too, but tag and field keys share
  :func:`escape_key`, and the rule is rare enough to apply to both.
* The key ``time`` (exactly; ``Time`` is fine): InfluxDB 1.x drops a point with a tag key
  ``time``, and silently drops a field named ``time``.
* Lone surrogates anywhere: they cannot be encoded as UTF-8, so no request could carry them.
* No fields; a float that is NaN or infinite (``Point`` silently drops the field); an integer
  outside the signed 64-bit range (unparseable for the server); a timestamp outside
  ``[-9223372036854775806, 9223372036854775806]`` ns (the server's range); a series key plus
  field key longer than 65535 bytes (the server's key limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from math import isfinite
from typing import NoReturn

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_KEY_BYTES",
    "TIME_NS_MAX",
    "TIME_NS_MIN",
    "LineProtocolError",
    "escape_key",
    "escape_measurement",
    "escape_string_field",
    "escape_tag_value",
    "format_float",
    "format_line",
]


class LineProtocolError(ValueError):
    """A value that InfluxDB line protocol cannot carry faithfully; the message names the part."""


# Point's tables also map newline, tab and carriage return; those are refused before any
# translation here, so the tables leave them out.
_MEASUREMENT_TABLE = str.maketrans({",": "\\,", " ": "\\ "})
_KEY_TABLE = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})
_STRING_TABLE = str.maketrans({'"': '\\"', "\\": "\\\\"})

# A backslash before one of these is eaten by InfluxDB when it unescapes a measurement or a
# field key (tag values keep it: the server unescapes them differently).
_BACKSLASH_EATERS = frozenset(',= "')

_RESERVED_KEY = "time"

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# influxd refuses the two most extreme int64 values on each side as timestamps.
TIME_NS_MIN = -(2**63) + 2
TIME_NS_MAX = 2**63 - 2

# The series key (escaped measurement and tags) plus the 4-byte "#!~#" separator plus an
# escaped field key must fit in 65535 bytes, or influxd refuses the line.
MAX_KEY_BYTES = 65535
_KEY_SEPARATOR_BYTES = 4
# A line of at most this many characters cannot break the limit even at 4 UTF-8 bytes per
# character, so the exact byte count is only computed for longer lines.
_KEY_CHECK_CHARS = (MAX_KEY_BYTES - _KEY_SEPARATOR_BYTES) // 4

# IoT series repeat: a few thousand devices send the same measurement and tags over and over.
# format_line therefore remembers the escaped series key per (measurement, tag items) and the
# escaped field keys, so the checks and escaping run once per series, not once per reading.
# Only accepted input is remembered; the caches are emptied when full, which bounds memory
# without the bookkeeping of an LRU.
_CACHE_LIMIT = 8192
_series_keys: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
_field_keys: dict[str, str] = {}


def _fail(kind: str, subject: object, problem: str) -> NoReturn:
    """Raise a LineProtocolError; the message is only formatted on this (rare) path."""
    part = kind if subject is None else f"{kind} {subject!r}"
    raise LineProtocolError(f"{part} {problem}")


def _require_str(value: object, kind: str, subject: object) -> None:
    """Refuse non-str input with a TypeError instead of an AttributeError from deep inside."""
    if not isinstance(value, str):
        part = kind if subject is None else f"{kind} {subject!r}"
        raise TypeError(f"{part} must be a str, not {type(value).__name__}")


def _check_unprintable(s: str, kind: str, subject: object, *, controls_allowed: bool) -> None:
    """Slow path for strings that ``str.isprintable()`` flagged.

    ``isprintable()`` runs in C and is True for nearly all real names, so this per-character
    loop only runs for strings holding a control character, a surrogate, or exotic Unicode
    (non-breaking spaces, format characters), which is fine and passes.
    """
    for index, char in enumerate(s):
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            _fail(
                kind,
                subject,
                f"contains the lone surrogate {char!r} at index {index}, which cannot be encoded as UTF-8",
            )
        if not controls_allowed and (code < 0x20 or code == 0x7F):
            _fail(
                kind,
                subject,
                f"contains the control character {char!r} at index {index}, "
                "which line protocol cannot carry faithfully",
            )


def _check_backslashes(s: str, kind: str, subject: object) -> None:
    """Measurement and keys: no trailing backslash, none before ``,`` ``=`` space or ``"``."""
    if s[-1] == "\\":
        _fail(kind, subject, "ends with a backslash, which line protocol cannot carry")
    index = s.find("\\")
    while index != -1:
        after = s[index + 1]  # in range: the last character is not a backslash
        if after in _BACKSLASH_EATERS:
            _fail(
                kind, subject, f"has a backslash before {after!r} at index {index}; InfluxDB would drop the backslash"
            )
        index = s.find("\\", index + 1)


# Each escape function checks with cheap C-level string methods first (isprintable, `in`) and
# only falls into a Python loop when something unusual is present.  str.translate costs about
# 300 ns even when nothing changes, so it only runs when a character needs escaping.


def _escape_measurement(s: str) -> str:
    _require_str(s, "measurement", None)
    if not s:
        _fail("measurement", None, "is empty")
    if s[0] == "#":
        _fail("measurement", s, "starts with '#', which InfluxDB reads as a comment line")
    if not s.isprintable():
        _check_unprintable(s, "measurement", s, controls_allowed=False)
    if "\\" in s:
        _check_backslashes(s, "measurement", s)
    if "," in s or " " in s:
        return s.translate(_MEASUREMENT_TABLE)
    return s


def _escape_key(s: str, kind: str) -> str:
    _require_str(s, kind, None)
    if not s:
        _fail(kind, None, "is empty")
    if s == _RESERVED_KEY:
        _fail(kind, s, "is reserved: InfluxDB 1.x drops a tag or field named 'time'")
    if not s.isprintable():
        _check_unprintable(s, kind, s, controls_allowed=False)
    if "\\" in s:
        _check_backslashes(s, kind, s)
    if "," in s or "=" in s or " " in s:
        return s.translate(_KEY_TABLE)
    return s


def _escape_tag_value(s: str, key: object) -> str:
    kind = "tag value" if key is None else "tag value for"
    _require_str(s, kind, key)
    if not s:
        _fail(kind, key, "is empty, which line protocol cannot carry (influxdb-client would silently drop the tag)")
    if not s.isprintable():
        _check_unprintable(s, kind, key, controls_allowed=False)
    if s[-1] == "\\":
        _fail(kind, key, "ends with a backslash, which line protocol cannot carry")
    if "," in s or "=" in s or " " in s:
        return s.translate(_KEY_TABLE)
    return s


def _escape_string_field(s: str, key: object) -> str:
    # isascii() is O(1) in CPython, and a non-ASCII printable string holds no surrogate either.
    if not s.isascii() and not s.isprintable():
        kind = "string field value" if key is None else "string value of field"
        _check_unprintable(s, kind, key, controls_allowed=True)
    if '"' in s or "\\" in s:
        return s.translate(_STRING_TABLE)
    return s


def escape_measurement(s: str) -> str:
    """Escape a measurement as Point does (``,`` and space), refusing what Point would mangle."""
    return _escape_measurement(s)


def escape_key(s: str) -> str:
    """Escape a tag key or field key as Point does (``,`` ``=`` space), refusing what Point would mangle."""
    return _escape_key(s, "key")


def escape_tag_value(s: str) -> str:
    """Escape a tag value as Point does (``,`` ``=`` space), refusing what Point would mangle."""
    return _escape_tag_value(s, None)


def escape_string_field(s: str) -> str:
    """Escape the inside of a quoted string field value (``"`` and backslash) as Point does.

    Control characters are allowed here: inside the quotes InfluxDB keeps them as they are.
    Only lone surrogates are refused, as no UTF-8 request can carry them.
    """
    _require_str(s, "string field value", None)
    return _escape_string_field(s, None)


def _float_text(value: float) -> str:
    """Point's float format for an exact ``float``: its repr (= str), minus a trailing ``.0``."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def format_float(value: float) -> str:
    """Format a float field value exactly as Point does: ``str(value)`` minus a trailing ``.0``.

    Exposed for the service's hot path, which writes ``value=<float>`` itself.  An int (which
    type checkers accept for ``float``) is formatted as the float it converts to, since that is
    what a float field stores; a bool is refused.  NaN and infinities raise LineProtocolError:
    InfluxDB cannot store them.
    """
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"format_float needs a float, not {type(value).__name__}")
        try:
            value = float(value)
        except OverflowError:
            raise LineProtocolError(f"float value {value} is too large for a 64-bit float") from None
    if not isfinite(value):
        raise LineProtocolError(f"float value {value!r} is not finite; InfluxDB cannot store NaN or infinity")
    return _float_text(value)


def _field_text(key: str, value: float | int | bool | str) -> str:
    """One field value in line protocol; exact types first because they are the common case."""
    if type(value) is float:
        if not isfinite(value):
            _fail(
                "field",
                key,
                f"is {value!r}; InfluxDB cannot store NaN or infinity (influxdb-client would silently drop the field)",
            )
        return _float_text(value)
    if type(value) is int:
        if not INT64_MIN <= value <= INT64_MAX:
            _fail("field", key, f"is {value}, outside InfluxDB's signed 64-bit integer range")
        return f"{value}i"
    if type(value) is str:
        return f'"{_escape_string_field(value, key)}"'
    if type(value) is bool:
        return "true" if value else "false"
    return _field_text(key, _plain_value(key, value))


def _plain_value(key: str, value: object) -> float | int | str:
    """A subclass value (numpy.float64, IntEnum, StrEnum) as its plain value, as Point's str() shows it."""
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"field {key!r} has unsupported type {type(value).__name__}")


def _series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """Escaped measurement and sorted tags, from the cache when this series was seen before."""
    try:
        cache_key = (measurement, tuple(tags.items()))
        return _series_keys[cache_key]
    except KeyError:
        pass
    except TypeError:  # an unhashable tag value: not a str, so building raises the TypeError
        return _build_series_key(measurement, tags)
    series_key = _build_series_key(measurement, tags)
    if len(_series_keys) >= _CACHE_LIMIT:
        _series_keys.clear()
    _series_keys[cache_key] = series_key
    return series_key


def _build_series_key(measurement: str, tags: Mapping[str, str]) -> str:
    parts = [_escape_measurement(measurement)]
    for key in sorted(tags):
        parts.append(f",{_escape_key(key, 'tag key')}={_escape_tag_value(tags[key], key)}")
    return "".join(parts)


def _field_key(key: str) -> str:
    """Escaped field key, cached: most points carry the same one or two field names."""
    escaped = _field_keys.get(key)
    if escaped is None:
        escaped = _escape_key(key, "field key")
        if len(_field_keys) >= _CACHE_LIMIT:
            _field_keys.clear()
        _field_keys[key] = escaped
    return escaped


def _check_key_length(series_key: str, fields: Mapping[str, object]) -> None:
    """Exact UTF-8 check of influxd's key limit; only called for long lines."""
    series_bytes = len(series_key.encode()) + _KEY_SEPARATOR_BYTES
    for key in fields:
        total = series_bytes + len(_field_key(key).encode())
        if total > MAX_KEY_BYTES:
            _fail("series key plus field key", key, f"is {total} bytes, over InfluxDB's limit of {MAX_KEY_BYTES}")


def format_line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Mapping[str, float | int | bool | str],
    time_ns: int | None = None,
) -> str:
    """One line of line protocol (no newline), identical to ``Point(...).to_line_protocol()`` when accepted.

    Tags and fields are sorted by key, as Point sorts them; floats are ``str(value)`` without a
    trailing ``.0``, ints get an ``i``, bools are ``true``/``false`` (never ints), strings are
    quoted and escaped.  ``time_ns`` is a nanosecond timestamp, or None to let the server stamp
    the point.  Raises LineProtocolError for each case listed in the module docstring, and
    TypeError for values of unsupported types.
    """
    series_key = _series_key(measurement, tags)
    if len(fields) == 1:  # the common case: skip sorted() and join()
        for key, value in fields.items():
            field_set = f"{_field_key(key)}={_field_text(key, value)}"
    elif fields:
        field_set = ",".join([f"{_field_key(key)}={_field_text(key, fields[key])}" for key in sorted(fields)])
    else:
        _fail("point", measurement, "has no fields; line protocol needs at least one")
    line = f"{series_key} {field_set}"
    if len(line) > _KEY_CHECK_CHARS:
        _check_key_length(series_key, fields)
    if time_ns is None:
        return line
    if type(time_ns) is not int:
        if isinstance(time_ns, bool) or not isinstance(time_ns, int):
            raise TypeError(f"time_ns must be an int, not {type(time_ns).__name__}")
        time_ns = int(time_ns)
    if not TIME_NS_MIN <= time_ns <= TIME_NS_MAX:
        _fail("timestamp", time_ns, f"ns is outside InfluxDB's range [{TIME_NS_MIN}, {TIME_NS_MAX}]")
    return f"{line} {time_ns}"
