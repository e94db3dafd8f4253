"""Device timestamps: RFC 3339 strings or epoch seconds/milliseconds, checked against a sane window."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Final

from iot_suitcase.devices.errors import DecodeError, RejectCode

# Epoch numbers below this are seconds, above it milliseconds (1e11 s is the year 5138, 1e11 ms is 1973).
_MILLIS_FROM: Final = 1e11
_MILLIS_UNTIL: Final = 1e14
# A device whose clock was never set reports 1970; nothing this platform stores predates 2000.
EARLIEST: Final = datetime(2000, 1, 1, tzinfo=UTC)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(raw: str | float) -> datetime:
    """An RFC 3339 string (with Z or an offset) or epoch seconds/milliseconds, as an aware UTC datetime."""
    if isinstance(raw, str):
        return _parse_rfc3339(raw)
    if not math.isfinite(raw):
        raise DecodeError(RejectCode.NOT_FINITE, f"time {raw} is not a finite number")
    if raw < 0 or raw >= _MILLIS_UNTIL:
        raise DecodeError(RejectCode.BAD_TIME, f"time {raw!r} is neither epoch seconds nor epoch milliseconds")
    seconds = raw / 1000 if raw >= _MILLIS_FROM else raw
    # _EPOCH + timedelta(seconds=seconds), which it equals (test_strict_input.py), in a third less time
    return datetime.fromtimestamp(seconds, UTC)


# RFC 3339 section 5.6 date-time (T, t or a space between date and time; 't'/'z' lower case allowed):
# Python's fromisoformat alone also takes forms RFC 3339 does not have, e.g. 10:00:030 read as 10:00:03.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})?")


def _parse_rfc3339(raw: str) -> datetime:
    match = _RFC3339.fullmatch(raw)
    if match is None:
        raise DecodeError(RejectCode.BAD_TIME, f"time {raw[:64]!r} is not RFC 3339 (e.g. 2026-11-22T10:00:00Z)")
    fraction, offset = match.group(1), match.group(2)
    if offset is None:
        raise DecodeError(RejectCode.BAD_TIME, f"time {raw[:64]!r} has no UTC offset; add Z or +01:00")
    digits = (fraction or "")[:6]  # Python keeps microseconds; finer digits are cut, not rounded
    text = f"{raw[:10]}T{raw[11:19]}" + (f".{digits}" if digits else "") + ("+00:00" if offset in "Zz" else offset)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DecodeError(
            RejectCode.BAD_TIME, f"time {raw[:64]!r} is not RFC 3339 (e.g. 2026-11-22T10:00:00Z)"
        ) from None
    return moment.astimezone(UTC)


def check_window(moment: datetime, now: datetime, future_tolerance: timedelta) -> datetime:
    """Reject clocks that were never set (before 2000) and clocks running ahead of ours."""
    if moment < EARLIEST:
        raise DecodeError(
            RejectCode.BAD_TIME,
            f"time {moment.isoformat()} is before 2000: is the device's clock set?",
        )
    if moment > now + future_tolerance:
        raise DecodeError(
            RejectCode.TIME_IN_FUTURE,
            f"time {moment.isoformat()} is more than {future_tolerance.total_seconds():g} s ahead of "
            f"the server's clock ({now.isoformat()})",
        )
    return moment


def format_rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with 'Z', as devices write it: milliseconds, or microseconds when the time has them."""
    moment = moment.astimezone(UTC)
    spec = "milliseconds" if moment.microsecond % 1000 == 0 else "microseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the epoch, from exact microseconds (one rounding, as SenML's ``bt`` is read back)."""
    return ((moment - _EPOCH) // timedelta(microseconds=1)) / 1_000_000
