"""What Grafana 11 does to an InfluxQL query before InfluxDB sees it, so tests can run panel queries for real.

Grafana interpolates in two places, and this follows both in the same order:

1. In the browser, dashboard variables (``templateSrv.replace`` with the InfluxDB datasource's
   ``interpolateQueryExpr``). Supported: ``$name``, ``${name}`` and ``${name:format}`` with the formats
   ``regex`` (values regex-escaped, several as ``(a|b)``), ``pipe``, ``csv``, ``raw``; without a format the
   values are regex-escaped the same way (Grafana 11; older versions joined several without parentheses,
   which is why the generated queries say ``${name:regex}`` explicitly).
   "All" with a custom all value (ours: ``.*``) inserts that value unescaped, whatever the format. The
   built-ins ``$__from`` / ``$__to`` become epoch milliseconds. Unknown names stay as they are, which is
   how ``$timeFilter`` and ``$__interval`` reach step 2 (the InfluxDB datasource leaves them to the backend).
2. In Grafana's InfluxDB backend (pkg/tsdb/influxdb/models/query.go), in this order: ``$timeFilter`` ->
   ``time >= <from>ms and time <= <to>ms``; ``$interval`` and ``$__interval`` -> the interval as Go's
   ``gtime.FormatInterval`` writes it (``10s``, ``1m``, ``2h``: truncated to the largest whole unit);
   ``$__interval_ms`` -> milliseconds.

The interval is what the browser computes for a panel: the time range divided by the panel's max data
points (about its width in pixels; 1000 here unless the panel sets ``maxDataPoints``), rounded to a "nice"
value the way Grafana's ``rangeutil.roundInterval`` does, and never below the panel's or the datasource's
minimum interval (``timeInterval``, 10 s for ours).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ALL = "$__all"

# Grafana's variable syntax (templateSrv's regex), without the deprecated [[name]] form.
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)(?::(\w+))?\}")
_REGEX_ESCAPE = re.compile(r"[\\^$*+?.()|\[\]{}/]")

# (upper bound in ms of the raw interval, the rounded interval in ms), Grafana's roundInterval table.
_ROUNDING: tuple[tuple[float, int], ...] = (
    (15, 10),
    (35, 20),
    (75, 50),
    (150, 100),
    (350, 200),
    (750, 500),
    (1_500, 1_000),
    (3_500, 2_000),
    (7_500, 5_000),
    (12_500, 10_000),
    (17_500, 15_000),
    (25_000, 20_000),
    (45_000, 30_000),
    (90_000, 60_000),
    (210_000, 120_000),
    (450_000, 300_000),
    (750_000, 600_000),
    (1_050_000, 900_000),
    (1_500_000, 1_200_000),
    (2_700_000, 1_800_000),
    (5_400_000, 3_600_000),
    (9_000_000, 7_200_000),
    (16_200_000, 10_800_000),
    (32_400_000, 21_600_000),
    (86_400_000, 43_200_000),
    (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000),
    (3_628_800_000, 2_592_000_000),
)
_YEAR_MS = 31_536_000_000
_UNITS = (("y", 365 * 86_400_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1))
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_DURATION_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "y": _YEAR_MS}


@dataclass(frozen=True)
class Variable:
    """A dashboard variable's current state: ``selected`` is a list of values, or ``ALL``."""

    name: str
    selected: Sequence[str] | str
    options: Sequence[str] = ()
    all_value: str | None = None
    multi: bool = True
    include_all: bool = True

    def values(self) -> list[str] | None:
        """The values chosen, or None for "All" with a custom all value (inserted raw)."""
        if self.selected == ALL:
            return None if self.all_value is not None else list(self.options)
        return [self.selected] if isinstance(self.selected, str) else list(self.selected)


def regex_escape(value: str) -> str:
    """Grafana's ``regexEscape``: one backslash before every regex metacharacter and ``/``."""
    return _REGEX_ESCAPE.sub(lambda match: "\\" + match.group(0), value)


def _format(variable: Variable, fmt: str | None) -> str:
    values = variable.values()
    if values is None:
        assert variable.all_value is not None
        return variable.all_value
    if fmt in ("regex", None):
        # The default is the InfluxDB datasource's interpolateQueryExpr: it regex-escapes too, except a
        # single-value variable's number (``influxRegularEscape``).
        if fmt is None and not (variable.multi or variable.include_all) and _is_number(values[0]):
            return values[0]
        escaped = [regex_escape(value) for value in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt == "pipe":
        return "|".join(values)
    if fmt == "csv":
        return ",".join(values)
    if fmt == "raw":
        return values[0] if len(values) == 1 else "{" + ",".join(values) + "}"
    raise ValueError(f"variable format {fmt!r} is not mimicked here")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_duration_ms(text: str) -> int:
    """Milliseconds of a Grafana duration such as ``10s``, ``7d``."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a Grafana duration: {text!r}")
    return int(match.group(1)) * _DURATION_MS[match.group(2)]


def round_interval_ms(raw_ms: float) -> int:
    for bound, rounded in _ROUNDING:
        if raw_ms < bound:
            return rounded
    return _YEAR_MS


def panel_interval_ms(start: datetime, end: datetime, *, max_data_points: int = 1000, min_interval: str = "10s") -> int:
    """The ``$__interval`` Grafana computes for a panel showing [start, end]."""
    raw = (end - start) / timedelta(milliseconds=1) / max_data_points
    return max(round_interval_ms(raw), parse_duration_ms(min_interval))


def format_interval(interval_ms: int) -> str:
    """Go's ``gtime.FormatInterval``: the largest unit that fits, truncated."""
    for unit, size in _UNITS:
        if interval_ms >= size:
            return f"{interval_ms // size}{unit}"
    return "1ms"


def interpolate(
    query: str,
    *,
    start: datetime,
    end: datetime,
    interval_ms: int,
    variables: Mapping[str, Variable] | None = None,
) -> str:
    """``query`` as InfluxDB receives it from Grafana for the range [start, end]."""
    known = dict(variables or {})
    start_ms = int(start.timestamp() * 1000)
    end_ms = int(end.timestamp() * 1000)
    builtins = {"__from": str(start_ms), "__to": str(end_ms)}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in builtins:
            return builtins[name]
        variable = known.get(name)
        if variable is None:
            return match.group(0)
        return _format(variable, match.group(3))

    text = _VARIABLE.sub(replace, query)
    interval = format_interval(interval_ms)
    text = text.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
    text = text.replace("$interval", interval)
    text = text.replace("$__interval_ms", str(interval_ms))
    return text.replace("$__interval", interval)
