"""The hand-written line protocol serializer against influxdb-client's Point and a real InfluxDB 1.6.

Three kinds of evidence:

* a hypothesis property: for arbitrary input, ``format_line`` either returns exactly Point's line,
  or raises LineProtocolError for a reason that an independent predicate (``rejection_reasons``,
  written here from the documented rules, sharing no code with the module) also finds;
* unit tests pinning each rejection message;
* the real server: accepted tag values, string fields, numbers, measurements and keys are written
  over HTTP and read back unchanged, and for every rejection rule Point's own line is shown to be
  refused or stored differently by the server (so no rule refuses something harmless).
"""

from __future__ import annotations

import itertools
import math
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
from collections.abc import Iterator, Mapping
from enum import IntEnum, StrEnum
from typing import Any, Protocol

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from influxdb_client.client.write import point as _point_module

from ingest.sink import lineprotocol
from ingest.sink.lineprotocol import (
    LineProtocolError,
    escape_key,
    escape_measurement,
    escape_string_field,
    escape_tag_value,
    format_float,
    format_line,
)

FieldValue = float | int | bool | str

# influxdb-client is untyped: used through Any so strict mypy accepts the calls.
point_module: Any = _point_module

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
TIME_MIN = -(2**63) + 2
TIME_MAX = 2**63 - 2


# ---------------------------------------------------------------------------------------------
# Generators: plenty of the characters that matter, mixed into arbitrary text.

SEPARATORS = [",", "=", " ", '"', "#"]
CONTROLS = ["\n", "\r", "\t", "\x00", "\x1f", "\x7f"]
UNICODE = ["é", "☃", "😀", "\u00a0", "\u2028", "\x85", "\ufeff", "\u200b"]
SURROGATES = ["\ud800", "\udfff"]


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from one of the strategies with the given relative weights (st.one_of has none)."""
    return st.sampled_from([strategy for weight, strategy in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


def texts(*, controls: bool, surrogates: bool, min_size: int = 0, max_size: int = 8) -> st.SearchStrategy[str]:
    """Text where separators, backslashes and quotes are frequent; optionally controls and surrogates.

    Built as a list of characters: st.text() would merge the alphabet into one character set,
    where the few interesting characters drown among a million others (and surrogates vanish).
    """
    choices: list[tuple[int, st.SearchStrategy[str]]] = [
        (6, st.sampled_from(SEPARATORS)),
        (1, st.just("\\")),
        (6, st.characters(min_codepoint=0x20, max_codepoint=0x7E)),
        (2, st.characters(exclude_categories=["Cc", "Cs"])),
        (2, st.sampled_from(UNICODE)),
    ]
    if controls:
        choices.append((2, st.sampled_from(CONTROLS)))
    if surrogates:
        choices.append((1, st.sampled_from(SURROGATES)))
    return st.lists(weighted(*choices), min_size=min_size, max_size=max_size).map("".join)


# Names: mostly clean-ish text (so that about half the lines are accepted and compared with
# Point), sometimes anything, sometimes a known-awkward value.
any_text = texts(controls=True, surrogates=True)
clean_text = texts(controls=False, surrogates=False, min_size=1)
awkward = st.sampled_from(["", "time", "Time", "#", "#x", "a\\", "a\\,b", "a\\\\b", "\\ ", "value"])
names: st.SearchStrategy[str] = weighted((12, clean_text), (1, any_text), (1, awkward))
tag_values: st.SearchStrategy[str] = weighted((8, clean_text), (1, any_text))
integers: st.SearchStrategy[int] = weighted(
    (4, st.integers(min_value=INT64_MIN, max_value=INT64_MAX)),
    (1, st.sampled_from([0, -1, INT64_MAX, INT64_MAX + 1, INT64_MIN, INT64_MIN - 1])),
    (1, st.integers()),
)
field_values: st.SearchStrategy[FieldValue] = weighted(
    (4, st.floats()),
    (1, st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e16, 5e-324])),
    (3, integers),
    (1, st.booleans()),
    (1, any_text),
    (3, texts(controls=True, surrogates=False, max_size=16)),
)
timestamps: st.SearchStrategy[int | None] = weighted(
    (2, st.none()),
    (6, st.integers(min_value=TIME_MIN, max_value=TIME_MAX)),
    (1, st.sampled_from([TIME_MIN, TIME_MAX, TIME_MIN - 1, TIME_MAX + 1, INT64_MIN, INT64_MAX, 2**64])),
)
field_sets: st.SearchStrategy[dict[str, FieldValue]] = weighted(
    (20, st.dictionaries(names, field_values, min_size=1, max_size=4)), (1, st.just({}))
)


# ---------------------------------------------------------------------------------------------
# The reference: Point itself, and the rejection rules restated independently of the module.


def point_line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue], time_ns: int | None) -> str:
    point = point_module.Point(measurement)
    for tag_key, tag_value in tags.items():
        point.tag(tag_key, tag_value)
    for field_key, field_value in fields.items():
        point.field(field_key, field_value)
    if time_ns is not None:
        point.time(time_ns, point_module.WritePrecision.NS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # Point warns about a leading '#'
        return str(point.to_line_protocol())


CONTROL_RE = re.compile("[\x00-\x1f\x7f]")
SURROGATE_RE = re.compile("[\ud800-\udfff]")
BACKSLASH_BEFORE_RE = re.compile(r'\\[,= "]')


def name_reasons(s: str, *, measurement: bool = False, key: bool = False, tag_value: bool = False) -> list[str]:
    """Message fragments for every documented rule a measurement, key or tag value breaks."""
    reasons = []
    if s == "":
        reasons.append("is empty")
    if measurement and s.startswith("#"):
        reasons.append("starts with '#'")
    if key and s == "time":
        reasons.append("is reserved")
    if CONTROL_RE.search(s):
        reasons.append("control character")
    if SURROGATE_RE.search(s):
        reasons.append("lone surrogate")
    if s.endswith("\\"):
        reasons.append("ends with a backslash")
    if not tag_value and BACKSLASH_BEFORE_RE.search(s):
        reasons.append("has a backslash before")
    return reasons


def naive_escape(s: str, specials: str) -> str:
    return "".join("\\" + char if char in specials else char for char in s)


def rejection_reasons(
    measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue], time_ns: int | None
) -> list[str]:
    reasons = name_reasons(measurement, measurement=True)
    for tag_key, tag_value in tags.items():
        reasons += name_reasons(tag_key, key=True)
        reasons += name_reasons(tag_value, tag_value=True)
    if not fields:
        reasons.append("has no fields")
    for key, value in fields.items():
        reasons += name_reasons(key, key=True)
        if isinstance(value, float) and not math.isfinite(value):
            reasons.append("cannot store NaN or infinity")
        elif isinstance(value, int) and not isinstance(value, bool) and not INT64_MIN <= value <= INT64_MAX:
            reasons.append("signed 64-bit integer range")
        elif isinstance(value, str) and SURROGATE_RE.search(value):
            reasons.append("lone surrogate")
    if time_ns is not None and not TIME_MIN <= time_ns <= TIME_MAX:
        reasons.append("outside InfluxDB's range")
    if not reasons:  # only meaningful for encodable text
        series = naive_escape(measurement, ", ") + "".join(
            f",{naive_escape(k, ',= ')}={naive_escape(v, ',= ')}" for k, v in tags.items()
        )
        for key in fields:
            if len(series.encode()) + 4 + len(naive_escape(key, ",= ").encode()) > 65535:
                reasons.append("over InfluxDB's limit of 65535")
    return reasons


# ---------------------------------------------------------------------------------------------
# 1. Property: identical to Point, or refused for a documented reason.


@settings(max_examples=2000)
@given(
    measurement=names,
    tags=st.dictionaries(names, tag_values, max_size=4),
    fields=field_sets,
    time_ns=timestamps,
)
def test_format_line_equals_point_or_rejects_for_a_documented_reason(
    measurement: str, tags: dict[str, str], fields: dict[str, FieldValue], time_ns: int | None
) -> None:
    reasons = rejection_reasons(measurement, tags, fields, time_ns)
    event("rejected" if reasons else "accepted")  # see --hypothesis-show-statistics
    if reasons:
        with pytest.raises(LineProtocolError) as caught:
            format_line(measurement, tags, fields, time_ns)
        assert any(reason in str(caught.value) for reason in reasons), f"{caught.value} is none of {reasons}"
        return
    line = format_line(measurement, tags, fields, time_ns)
    assert line == point_line(measurement, tags, fields, time_ns)
    # Twice: the second call comes from the series-key and field-key caches.
    assert format_line(measurement, tags, fields, time_ns) == line


@settings(max_examples=500)
@given(s=st.one_of(names, tag_values, any_text))
def test_escape_functions_equal_points_escaping_or_reject(s: str) -> None:
    cases = [
        (escape_measurement, name_reasons(s, measurement=True), point_module._ESCAPE_MEASUREMENT),
        (escape_key, name_reasons(s, key=True), point_module._ESCAPE_KEY),
        (escape_tag_value, name_reasons(s, tag_value=True), None),
        (escape_string_field, ["lone surrogate"] if SURROGATE_RE.search(s) else [], point_module._ESCAPE_STRING),
    ]
    for escape, reasons, table in cases:
        if reasons:
            with pytest.raises(LineProtocolError) as caught:
                escape(s)
            assert any(reason in str(caught.value) for reason in reasons), f"{caught.value} vs {reasons}"
            continue
        escaped = escape(s)
        expected = point_module._escape_tag_value(s) if table is None else s.translate(table)
        assert escaped == expected


@settings(max_examples=500)
@given(value=st.one_of(st.floats(), st.integers(min_value=-(2**80), max_value=2**80)))
def test_format_float_equals_point(value: float) -> None:
    as_float = float(value)
    if not math.isfinite(as_float):
        with pytest.raises(LineProtocolError, match="not finite"):
            format_float(value)
        return
    text = format_float(value)
    assert f"m v={text}" == point_line("m", {}, {"v": as_float}, None)
    assert float(text) == as_float


# ---------------------------------------------------------------------------------------------
# 2. Each rejection, with its message.

LONG = 65530  # "m" * LONG plus "#!~#" plus field key "f" is exactly InfluxDB's 65535-byte limit


@pytest.mark.parametrize(
    ("measurement", "tags", "fields", "time_ns", "message"),
    [
        ("", {}, {"v": 1.0}, None, "measurement is empty"),
        ("#m", {}, {"v": 1.0}, None, "measurement '#m' starts with '#', which InfluxDB reads as a comment line"),
        ("m\n", {}, {"v": 1.0}, None, "measurement 'm\\n' contains the control character '\\n' at index 1"),
        ("\x00m", {}, {"v": 1.0}, None, "contains the control character '\\x00' at index 0"),
        ("m\\", {}, {"v": 1.0}, None, "measurement 'm\\\\' ends with a backslash, which line protocol cannot carry"),
        (
            "a\\,b",
            {},
            {"v": 1.0},
            None,
            "measurement 'a\\\\,b' has a backslash before ',' at index 1; InfluxDB would drop the backslash",
        ),
        ("a\\\\ b", {}, {"v": 1.0}, None, "has a backslash before ' ' at index 2"),
        ("m\ud800", {}, {"v": 1.0}, None, "contains the lone surrogate '\\ud800' at index 1"),
        ("m", {"": "x"}, {"v": 1.0}, None, "tag key is empty"),
        ("m", {"time": "x"}, {"v": 1.0}, None, "tag key 'time' is reserved"),
        ("m", {"a\tb": "x"}, {"v": 1.0}, None, "tag key 'a\\tb' contains the control character '\\t'"),
        ("m", {"a\\": "x"}, {"v": 1.0}, None, "tag key 'a\\\\' ends with a backslash"),
        ("m", {"a\\=": "x"}, {"v": 1.0}, None, "tag key 'a\\\\=' has a backslash before '='"),
        (
            "m",
            {"site": ""},
            {"v": 1.0},
            None,
            "tag value for 'site' is empty, which line protocol cannot carry (influxdb-client would silently "
            "drop the tag)",
        ),
        (
            "m",
            {"site": "lab\\"},
            {"v": 1.0},
            None,
            "tag value for 'site' ends with a backslash, which line protocol cannot carry",
        ),
        ("m", {"site": "a\r\nb"}, {"v": 1.0}, None, "tag value for 'site' contains the control character '\\r'"),
        ("m", {"site": "a\x7f"}, {"v": 1.0}, None, "contains the control character '\\x7f' at index 1"),
        ("m", {}, {}, None, "point 'm' has no fields; line protocol needs at least one"),
        ("m", {}, {"": 1.0}, None, "field key is empty"),
        ("m", {}, {"time": 1.0}, None, "field key 'time' is reserved: InfluxDB 1.x drops a tag or field named 'time'"),
        ("m", {}, {'a\\"': 1.0}, None, "field key 'a\\\\\"' has a backslash before '\"'"),
        (
            "m",
            {},
            {"v": math.nan},
            None,
            "field 'v' is nan; InfluxDB cannot store NaN or infinity (influxdb-client would silently drop the field)",
        ),
        ("m", {}, {"v": -math.inf}, None, "field 'v' is -inf; InfluxDB cannot store NaN or infinity"),
        ("m", {}, {"n": 2**63}, None, "field 'n' is 9223372036854775808, outside InfluxDB's signed 64-bit integer"),
        ("m", {}, {"n": -(2**63) - 1}, None, "outside InfluxDB's signed 64-bit integer range"),
        (
            "m",
            {},
            {"s": "ok\udfff"},
            None,
            "string value of field 's' contains the lone surrogate '\\udfff' at index 2",
        ),
        ("m", {}, {"v": 1.0}, TIME_MAX + 1, "timestamp 9223372036854775807 ns is outside InfluxDB's range"),
        ("m", {}, {"v": 1.0}, TIME_MIN - 1, "timestamp -9223372036854775807 ns is outside InfluxDB's range"),
        (
            "m" * (LONG + 1),
            {},
            {"f": 1.0},
            None,
            "series key plus field key 'f' is 65536 bytes, over InfluxDB's limit of 65535",
        ),
        ("m", {"t": "é" * ((LONG - 4) // 2 + 1)}, {"f": 1.0}, None, "'f' is 65537 bytes"),
    ],
)
def test_rejection_messages(
    measurement: str, tags: dict[str, str], fields: dict[str, FieldValue], time_ns: int | None, message: str
) -> None:
    with pytest.raises(LineProtocolError) as caught:
        format_line(measurement, tags, fields, time_ns)
    assert message in str(caught.value)
    # Refusals are never cached: the same input is refused again.
    with pytest.raises(LineProtocolError):
        format_line(measurement, tags, fields, time_ns)


@pytest.mark.parametrize(
    ("escape", "value", "message"),
    [
        (escape_measurement, "", "measurement is empty"),
        (escape_measurement, "#x", "starts with '#'"),
        (escape_key, "", "key is empty"),
        (escape_key, "time", "key 'time' is reserved"),
        (escape_key, "a\\ b", "key 'a\\\\ b' has a backslash before ' ' at index 1"),
        (escape_tag_value, "", "tag value is empty"),
        (escape_tag_value, "x\\", "tag value ends with a backslash"),
        (escape_tag_value, "x\ny", "tag value contains the control character '\\n' at index 1"),
        (escape_string_field, "\ud800", "string field value contains the lone surrogate"),
    ],
)
def test_escape_function_rejection_messages(escape: Any, value: str, message: str) -> None:
    with pytest.raises(LineProtocolError) as caught:
        escape(value)
    assert message in str(caught.value)


def test_format_float_rejections() -> None:
    for value, message in [
        (math.nan, "float value nan is not finite"),
        (math.inf, "float value inf is not finite"),
        (10**400, "too large for a 64-bit float"),
    ]:
        with pytest.raises(LineProtocolError) as caught:
            format_float(value)
        assert message in str(caught.value)
    with pytest.raises(TypeError, match="needs a float, not bool"):
        format_float(True)


def test_wrong_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="tag value for 'site' must be a str, not NoneType"):
        format_line("m", {"site": None}, {"v": 1.0})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="field 'v' has unsupported type list"):
        format_line("m", {}, {"v": []})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="time_ns must be an int, not bool"):
        format_line("m", {}, {"v": 1.0}, True)


# ---------------------------------------------------------------------------------------------
# Accepted edge cases, against Point.


class Level(IntEnum):
    HIGH = 3


class Mode(StrEnum):
    AUTO = "auto mode"


class Reading(float):
    pass


@pytest.mark.parametrize(
    ("measurement", "tags", "fields", "time_ns"),
    [
        ("m", {}, {"v": 1.0}, None),
        ("m", {}, {"v": -0.0, "w": 1e16, "x": 1e-7, "y": 5e-324, "z": 1.7976931348623157e308}, 0),
        ("m", {}, {"i": INT64_MAX, "j": INT64_MIN, "t": True, "f": False}, TIME_MAX),
        ("m", {}, {"s": "", "q": 'say "hi" \\ \\"', "n": "line\nbreak\ttab\x00nul"}, TIME_MIN),
        ("weather station, roof", {"site id": "a,b=c d", "zone": 'x\\y"z\\,'}, {"temp C": 21.5}, 1),
        ("m=1", {"#tag": "#v", "k": '\\ \\= \\, \\"'}, {"v": 1}, -1),
        ("Time", {"TIME": "x"}, {"Time": 1.0}, None),
        ("é☃😀", {"ключ": "значение\u00a0\u2028"}, {"текст": "ok"}, None),
        ("m", {"b": "2", "a": "1", "c": "3"}, {"z": 1, "y": 2.5, "x": "3"}, 5),
        ("m", {"level": "x"}, {"level": Level.HIGH, "mode": Mode.AUTO, "r": Reading(2.0)}, None),
        ("m" * LONG, {}, {"f": 1.0}, None),
        ("m", {"t": "é" * ((LONG - 4) // 2)}, {"f": 1.0}, None),
    ],
)
def test_accepted_edge_cases_equal_point(
    measurement: str, tags: dict[str, str], fields: dict[str, FieldValue], time_ns: int | None
) -> None:
    assert format_line(measurement, tags, fields, time_ns) == point_line(measurement, tags, fields, time_ns)


def test_format_float_examples() -> None:
    assert format_float(21.5) == "21.5"
    assert format_float(21.0) == "21"
    assert format_float(-0.0) == "-0"
    assert format_float(1e16) == "1e+16"
    assert format_float(21) == "21"  # an int is written as the float it converts to
    assert format_float(Reading(0.1)) == "0.1"


def test_caches_stay_bounded() -> None:
    for n in range(lineprotocol._CACHE_LIMIT + 10):
        format_line("m", {"device": f"d{n}"}, {f"f{n}": 1.0})
    assert len(lineprotocol._series_keys) <= lineprotocol._CACHE_LIMIT
    assert len(lineprotocol._field_keys) <= lineprotocol._CACHE_LIMIT


def test_unhashable_tag_value_is_a_type_error_not_a_cache_crash() -> None:
    with pytest.raises(TypeError, match="must be a str, not list"):
        format_line("m", {"t": []}, {"v": 1.0})  # type: ignore[dict-item]


# ---------------------------------------------------------------------------------------------
# 3. The real InfluxDB 1.6.7 (fixtures `influxdb` and `influx_db` from the shared conftest).


class InfluxServer(Protocol):
    """What these tests use of the `influxdb` fixture."""

    @property
    def url(self) -> str: ...

    def query(self, q: str, db: str | None = None) -> dict[str, Any]: ...

    def create_database(self, name: str) -> None: ...

    def drop_database(self, name: str) -> None: ...


_sequence = itertools.count()


def http_write(server: InfluxServer, db: str, body: str) -> tuple[int, str]:
    """POST line protocol to /write?db=<db>&precision=ns; the HTTP status and body (errors included)."""
    params = urllib.parse.urlencode({"db": db, "precision": "ns"})
    request = urllib.request.Request(f"{server.url}/write?{params}", data=body.encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def series_values(result: dict[str, Any]) -> Iterator[tuple[str, list[str], list[Any]]]:
    for statement in result.get("results", []):
        for series in statement.get("series", []):
            for values in series.get("values", []):
                yield series.get("name", ""), series["columns"], values


def rows(server: InfluxServer, db: str, measurement: str) -> list[dict[str, Any]]:
    """Every point of a measurement, without the nulls SELECT * adds for absent columns."""
    result = server.query(f"SELECT * FROM {quote_ident(measurement)}", db)
    return [
        {column: value for column, value in zip(columns, values, strict=True) if value is not None}
        for _name, columns, values in series_values(result)
    ]


def stored(server: InfluxServer, db: str) -> dict[str, list[dict[str, Any]]]:
    """The whole database: measurement -> rows (an unreadable measurement maps to an error marker)."""
    everything: dict[str, list[dict[str, Any]]] = {}
    for _name, _columns, (measurement, *_) in series_values(server.query("SHOW MEASUREMENTS", db)):
        try:
            everything[measurement] = rows(server, db, measurement)
        except Exception as exc:  # a name that InfluxQL cannot select is still evidence
            everything[measurement] = [{"error": str(exc)}]
    return everything


@pytest.fixture
def fresh_db(influxdb: InfluxServer) -> Iterator[str]:
    name = f"lp_{uuid.uuid4().hex[:12]}"
    influxdb.create_database(name)
    yield name
    influxdb.drop_database(name)


round_trip_tag_values = texts(controls=False, surrogates=False, min_size=1, max_size=16).filter(
    lambda s: not s.endswith("\\")
)
round_trip_strings = texts(controls=True, surrogates=False, max_size=24)
round_trip_times = st.one_of(
    st.none(),
    st.integers(min_value=1_700_000_000_000_000_000, max_value=1_700_000_086_400_000_000),
    st.sampled_from([0, -1, 1, TIME_MIN, TIME_MAX]),
)


round_trip_tags = st.lists(round_trip_tag_values, min_size=1, max_size=3).map(
    lambda values: {f"tag{i}": value for i, value in enumerate(values)}
)
round_trip_fields = st.tuples(
    st.lists(round_trip_strings, min_size=1, max_size=3),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=INT64_MIN, max_value=INT64_MAX),
    st.booleans(),
).map(
    lambda parts: {
        **{f"text{i}": text for i, text in enumerate(parts[0])},
        "number": parts[1],
        "integer": parts[2],
        "flag": parts[3],
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tags=round_trip_tags, fields=round_trip_fields, time_ns=round_trip_times)
def test_real_influxdb_round_trips_tag_values_and_fields(
    influxdb: InfluxServer, influx_db: str, tags: dict[str, str], fields: dict[str, FieldValue], time_ns: int | None
) -> None:
    measurement = f"roundtrip_{next(_sequence)}"  # each example reads only its own point
    line = format_line(measurement, tags, fields, time_ns)
    # A second line after it proves the first one ended where it should (newlines in strings).
    sentinel = format_line(f"{measurement}_end", {}, {"ok": True}, 1)
    status, detail = http_write(influxdb, influx_db, f"{line}\n{sentinel}")
    assert status == 204, f"{line!r}: HTTP {status} {detail}"

    (row,) = rows(influxdb, influx_db, measurement)
    strings = {key: value for key, value in fields.items() if key.startswith("text")}
    assert {key: row.get(key) for key in tags} == tags
    assert {key: row.get(key) for key in strings} == strings
    assert float(row["number"]) == fields["number"]
    assert row["integer"] == fields["integer"]
    assert row["flag"] is fields["flag"]
    if time_ns is not None:
        assert row["time"] == time_ns
    assert len(rows(influxdb, influx_db, f"{measurement}_end")) == 1


round_trip_names = texts(controls=False, surrogates=False, min_size=1, max_size=12).filter(
    lambda s: not name_reasons(s, measurement=True, key=True)
)


@settings(max_examples=40, deadline=None)
@given(measurement=round_trip_names, tag_key=round_trip_names, field_key=round_trip_names)
def test_real_influxdb_round_trips_measurements_and_keys(
    influxdb: InfluxServer, measurement: str, tag_key: str, field_key: str
) -> None:
    db = f"lp_names_{next(_sequence)}_{uuid.uuid4().hex[:8]}"  # SHOW ... must see this example only
    influxdb.create_database(db)
    try:
        line = format_line(measurement, {tag_key: "v"}, {field_key: 1.0}, 1)
        status, detail = http_write(influxdb, db, line)
        assert status == 204, f"{line!r}: HTTP {status} {detail}"
        assert [m for _n, _c, (m, *_) in series_values(influxdb.query("SHOW MEASUREMENTS", db))] == [measurement]
        tag_keys = list(series_values(influxdb.query("SHOW TAG KEYS", db)))
        assert [(name, values[0]) for name, _c, values in tag_keys] == [(measurement, tag_key)]
        field_keys = list(series_values(influxdb.query("SHOW FIELD KEYS", db)))
        assert [(name, values[0]) for name, _c, values in field_keys] == [(measurement, field_key)]
    finally:
        influxdb.drop_database(db)


@pytest.mark.parametrize(
    ("measurement", "tags", "fields"),
    [
        pytest.param("m", {"t": ""}, {"f": 1.0}, id="empty tag value: Point drops the tag"),
        pytest.param("m", {"t": "a\\"}, {"f": 1.0}, id="tag value trailing backslash: stored as 'a '"),
        pytest.param("m", {"t": "a\nb"}, {"f": 1.0}, id="control char in tag value: stored as backslash-n"),
        pytest.param("m", {"a\tb": "v"}, {"f": 1.0}, id="control char in tag key: stored as backslash-t"),
        pytest.param("\x00m", {}, {"f": 1.0}, id="leading NUL in measurement: skipped by the server"),
        pytest.param("#m", {}, {"f": 1.0}, id="measurement starting with #: a comment"),
        pytest.param("m\\", {}, {"f": 1.0}, id="measurement trailing backslash: unparseable"),
        pytest.param("a\\,b", {}, {"f": 1.0}, id="backslash before comma in measurement: backslash lost"),
        pytest.param('a\\"b', {}, {"f": 1.0}, id="backslash before quote in measurement: backslash lost"),
        pytest.param("m", {}, {"a\\=b": 1.0}, id="backslash before = in field key: unparseable"),
        pytest.param("m", {}, {'a\\"b': 1.0}, id="backslash before quote in field key: backslash lost"),
        pytest.param("m", {}, {"a\\": 1.0}, id="field key trailing backslash: unparseable"),
        pytest.param("m", {"a\\": "v"}, {"f": 1.0}, id="tag key trailing backslash: unparseable"),
        pytest.param("m", {}, {"": 1.0}, id="empty field key: unparseable"),
        pytest.param("m", {"time": "x"}, {"f": 1.0}, id="tag key time: point dropped"),
        pytest.param("m", {}, {"f": 1.0, "time": 2.0}, id="field key time: field dropped"),
        pytest.param("m", {}, {"f": 1.0, "g": math.nan}, id="nan: Point drops the field"),
        pytest.param("m", {}, {"n": 2**63}, id="int above int64: unparseable"),
        pytest.param("m" * (LONG + 1), {}, {"f": 1.0}, id="key over 65535 bytes: refused"),
    ],
)
def test_real_influxdb_mangles_what_format_line_rejects(
    influxdb: InfluxServer, fresh_db: str, measurement: str, tags: dict[str, str], fields: dict[str, FieldValue]
) -> None:
    """Every rule is needed: Point's line for the refused input is refused or stored differently."""
    with pytest.raises(LineProtocolError):
        format_line(measurement, tags, fields, 1)
    http_write(influxdb, fresh_db, point_line(measurement, tags, fields, 1))
    faithful = {measurement: [{"time": 1, **tags, **fields}]}
    assert stored(influxdb, fresh_db) != faithful


@pytest.mark.parametrize("time_ns", [TIME_MIN - 1, TIME_MAX + 1])
def test_real_influxdb_refuses_timestamps_format_line_rejects(
    influxdb: InfluxServer, fresh_db: str, time_ns: int
) -> None:
    with pytest.raises(LineProtocolError):
        format_line("m", {}, {"f": 1.0}, time_ns)
    status, detail = http_write(influxdb, fresh_db, point_line("m", {}, {"f": 1.0}, time_ns))
    assert status == 400, detail


def test_real_influxdb_accepts_the_longest_key_format_line_accepts(influxdb: InfluxServer, fresh_db: str) -> None:
    for measurement, tags in [("m" * LONG, {}), ("m", {"t": "é" * ((LONG - 4) // 2)})]:
        status, detail = http_write(influxdb, fresh_db, format_line(measurement, tags, {"f": 1.0}, 1))
        assert status == 204, detail
