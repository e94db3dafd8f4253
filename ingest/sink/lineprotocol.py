"""InfluxDB line protocol escaping, written by hand for the ingest hot path.

``points.py`` writes every line the service sends: a measurement that is a catalog quantity name or one
of its own (plain lowercase names that need no escaping), a device's tag set, float fields and a
nanosecond time. This module escapes the parts that come from outside (tag keys and values from the
registry) exactly as influxdb-client's ``Point`` does, and formats floats exactly as it does
(``test_lineprotocol.py`` and ``test_points.py`` prove it with hypothesis, and write the lines to a real
InfluxDB). It raises :class:`LineProtocolError` for the inputs where ``Point`` silently writes something
other than what it was given, or where InfluxDB 1.6 would store something different or refuse the line.

What is refused, and why (each rule was checked against a real InfluxDB 1.6.7):

* Empty keys or tag values: ``Point`` silently drops an empty tag.
* ASCII control characters (U+0000-U+001F, U+007F) in a key or tag value: ``Point`` turns newline,
  carriage return and tab into the two characters ``\\n``, ``\\r``, ``\\t``, which InfluxDB stores
  literally. The other control characters do survive in 1.6.7, but they are refused as well: one rule
  for all of them, and a name nobody can see or type in a dashboard is a registry mistake.
* A trailing backslash in a key or tag value: it escapes the separator that follows, so the line does
  not parse (for a tag value ``Point`` appends a space, which the server then keeps as part of the value).
* In a key, a backslash right before ``,`` ``=`` space or ``"``: InfluxDB unescapes those in field keys,
  so the backslash would be lost. Tag keys would round-trip, but one rule for all keys is simpler.
* The key ``time`` (exactly; ``Time`` is fine): InfluxDB 1.x drops a point with a tag key ``time``.
* Lone surrogates anywhere: they cannot be encoded as UTF-8, so no request could carry them.
* A float that is NaN or infinite: ``Point`` silently drops the field.
"""

from __future__ import annotations

from math import isfinite
from typing import NoReturn

__all__ = ["LineProtocolError", "escape_key", "escape_tag_value", "format_float", "string_field"]


class LineProtocolError(ValueError):
    """A value that InfluxDB line protocol cannot carry faithfully; the message names the part."""


# Point's table also maps newline, tab and carriage return; those are refused before any translation here.
_KEY_TABLE = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ "})

# A backslash before one of these is eaten by InfluxDB when it unescapes a measurement or a
# field key (tag values keep it: the server unescapes them differently).
_BACKSLASH_EATERS = frozenset(',= "')

_RESERVED_KEY = "time"


def _fail(kind: str, subject: object, problem: str) -> NoReturn:
    """Raise a LineProtocolError; the message is only formatted on this (rare) path."""
    part = kind if subject is None else f"{kind} {subject!r}"
    raise LineProtocolError(f"{part} {problem}")


def _require_str(value: object, kind: str, subject: object) -> None:
    """Refuse non-str input with a TypeError instead of an AttributeError from deep inside."""
    if not isinstance(value, str):
        part = kind if subject is None else f"{kind} {subject!r}"
        raise TypeError(f"{part} must be a str, not {type(value).__name__}")


def _check_unprintable(s: str, kind: str, subject: object) -> None:
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
        if code < 0x20 or code == 0x7F:
            _fail(
                kind,
                subject,
                f"contains the control character {char!r} at index {index}, "
                "which line protocol cannot carry faithfully",
            )


def _check_backslashes(s: str, kind: str, subject: object, why: str = "InfluxDB would drop the backslash") -> None:
    """No trailing backslash, none before ``,`` ``=`` space or ``"``."""
    if s[-1] == "\\":
        _fail(kind, subject, "ends with a backslash, which line protocol cannot carry")
    index = s.find("\\")
    while index != -1:
        after = s[index + 1]  # in range: the last character is not a backslash
        if after in _BACKSLASH_EATERS:
            _fail(kind, subject, f"has a backslash before {after!r} at index {index}; {why}")
        index = s.find("\\", index + 1)


# Each escape function checks with cheap C-level string methods first (isprintable, `in`) and
# only falls into a Python loop when something unusual is present.  str.translate costs about
# 300 ns even when nothing changes, so it only runs when a character needs escaping.


def _escape_key(s: str, kind: str) -> str:
    _require_str(s, kind, None)
    if not s:
        _fail(kind, None, "is empty")
    if s == _RESERVED_KEY:
        _fail(kind, s, "is reserved: InfluxDB 1.x drops a tag or field named 'time'")
    if not s.isprintable():
        _check_unprintable(s, kind, s)
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
        _check_unprintable(s, kind, key)
    if "\\" in s:
        # InfluxDB 1.x finds a line's end skipping every backslash's next character, its tags' end unescaping
        # only separators: after "\\ " in a tag it reads fields, and a later '=' and '"' swallow the next line
        _check_backslashes(s, kind, key, "InfluxDB would misread the line (and the one after it)")
    if "," in s or "=" in s or " " in s:
        return s.translate(_KEY_TABLE)
    return s


def escape_key(s: str) -> str:
    """Escape a tag key or field key as Point does (``,`` ``=`` space), refusing what Point would mangle."""
    return _escape_key(s, "key")


def escape_tag_value(s: str) -> str:
    """Escape a tag value as Point does (``,`` ``=`` space), refusing what Point would mangle."""
    return _escape_tag_value(s, None)


_STRING_TABLE = str.maketrans({"\\": "\\\\", '"': '\\"'})


def string_field(s: str) -> str:
    """A string field value as Point writes it: in double quotes, with backslash and quote escaped (the two
    characters InfluxDB unescapes there); control characters and lone surrogates are refused as for keys."""
    _require_str(s, "string field", None)
    _check_unprintable(s, "string field", None)
    return '"' + s.translate(_STRING_TABLE) + '"'


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
