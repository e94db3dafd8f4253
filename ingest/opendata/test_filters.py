"""$filter: what is read, what is refused (400) and what is not implemented (501), and how entities match."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.ingest.opendata.filters import Comparison, FilterError, Logical, matches, parse
from iot_suitcase.ingest.opendata.readings import conditions


def test_comparisons_joined_by_and_or_not_and_parentheses() -> None:
    found = parse("(name eq 'O''Brien' or result gt 2.5) and not id eq 'x'")
    assert isinstance(found, Logical)
    assert found.operator == "and"
    left, right = found.operands
    assert left == Logical("or", (Comparison("name", "eq", "O'Brien"), Comparison("result", "gt", 2.5)))
    assert right == Logical("not", (Comparison("id", "eq", "x"),))
    moment = parse("phenomenonTime ge 2026-12-06T10:00:00Z")
    assert moment == Comparison("phenomenonTime", "ge", datetime(2026, 12, 6, 10, tzinfo=UTC))


@pytest.mark.parametrize(
    ("text", "not_implemented"),
    [
        ("substringof('kit', name)", True),
        ("geo.intersects(location, geography'POINT(1 2)')", True),
        ("geo.distance(location, geography'POLYGON((0 0,1 1,1 0,0 0))') lt 5", False),
        ("geo.distance(location, geography'POINT(1 2)')", False),
        ("st_within(location, 'POLYGON((0 0,1 1,1 0,0 0))')", False),
        ("result add 1 gt 2", True),
        ("name eq", False),
        ("name is 'x'", False),
        ("(name eq 'x'", False),
        ("name eq 'x' trailing", False),
        ("name eq 'unterminated", False),
        ("x" * 3000, False),
    ],
)
def test_what_cannot_be_read_is_400_and_what_is_not_implemented_501(text: str, not_implemented: bool) -> None:
    with pytest.raises(FilterError) as raised:
        parse(text)
    assert raised.value.not_implemented is not_implemented


def test_entities_match_by_property_paths_ids_and_times() -> None:
    entity = {
        "@iot.id": "kit-1",
        "name": "Kit",
        "properties": {"site": "harbour"},
        "phenomenonTime": "2026-12-06T10:30:00.000Z/2026-12-06T11:30:00.000Z",
    }
    assert matches(parse("properties/site eq 'harbour' and id eq 'kit-1'"), entity)
    assert not matches(parse("properties/site ne 'harbour'"), entity)
    assert matches(parse("phenomenonTime ge 2026-12-06T10:00:00Z"), entity), "an interval by its start"
    assert not matches(parse("name gt 5"), entity), "no order between text and numbers"
    assert not matches(parse("nothing eq 'x'"), entity)


def test_only_and_joined_time_and_result_comparisons_reach_influxdb() -> None:
    found = conditions(parse("phenomenonTime ge 2026-12-06T10:00:00+01:00 and result lt 3"))
    assert found.time == ("time >= '2026-12-06T09:00:00Z'",)
    assert found.value == ('"value" < 3.0',)
    for text in ("result lt 3 or result gt 5", "name eq 'x'", "phenomenonTime ne 2026-12-06T10:00:00Z"):
        with pytest.raises(FilterError) as raised:
            conditions(parse(text))
        assert raised.value.not_implemented


@given(st.text(max_size=60))
def test_any_text_is_read_or_refused_with_a_filter_error(text: str) -> None:
    """Whatever a client sends, the answer is an expression or a FilterError saying why (400/501), never a
    crash (a 500)."""
    found: object
    try:
        found = parse(text)
    except FilterError as error:
        found = error
    assert isinstance(found, (Comparison, Logical)) or str(found).startswith("$filter")


def test_points_within_a_polygon_and_by_distance() -> None:
    place = {"location": {"type": "Point", "coordinates": [10.21, 56.15]}}
    square = "geography'POLYGON((10.2 56.1, 10.3 56.1, 10.3 56.2, 10.2 56.2, 10.2 56.1))'"
    assert matches(parse(f"st_within(location, {square})"), place)
    assert not matches(parse(f"st_within(location, {square})"), {"location": {"type": "Point", "coordinates": [9, 56]}})
    assert not matches(parse(f"st_within(location, {square})"), {"location": None}), "no point, no match"
    near = "geo.distance(location, geography'POINT(10.21 56.16)')"
    assert matches(parse(f"{near} lt 0.011"), place)
    assert not matches(parse(f"{near} lt 0.009"), place)
    assert matches(parse(f"{near} lt 0.011 and not st_within(location, {square})"), place) is False
