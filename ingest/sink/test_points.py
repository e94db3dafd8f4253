"""The production line formatter (``reading_line``, ``reading_lines``, ``tag_set``) against Point."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from influxdb_client.client.write import point as _point_module

from iot_suitcase.devices.reading import Reading
from iot_suitcase.ingest.sink.points import reading_line, reading_lines, tag_set, time_ns

POINT: Any = _point_module  # influxdb-client has no type hints
BASE = datetime(2026, 11, 1, tzinfo=UTC)
SHARED = [BASE, BASE + timedelta(microseconds=1), BASE.replace(tzinfo=UTC)]  # equal but distinct objects too
readings = st.builds(
    lambda device, moment, quantity, value: Reading(
        device_id=device, time=moment, quantity=quantity, value=value, unit="x"
    ),
    st.sampled_from(["dev-1", "b.2"]),
    st.sampled_from(SHARED) | st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(["temperature", "co2"]),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(st.lists(readings, max_size=6), st.none() | st.just("device=dev-1,site=a\\ b"))
def test_reading_lines_equal_reading_line_each(batch: list[Reading], tags: str | None) -> None:
    assert reading_lines(batch, tags) == [reading_line(reading, tags) for reading in batch]


# What runs in production, against influxdb-client's Point: every reading line the service writes (a catalog
# quantity, a float value, a device's registry tags of any text, a time) is exactly Point's line.
registry_tags = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda key: key not in {"device", "time"}), st.text(max_size=12), max_size=4
)
quantities = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
device_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True).filter(
    lambda d: not d.lower().startswith("suitcase-")
)
instants = st.datetimes(min_value=datetime(1678, 1, 1), max_value=datetime(2262, 1, 1), timezones=st.just(UTC))


@given(device_ids, quantities, st.floats(allow_nan=False, allow_infinity=False), instants, registry_tags)
def test_the_production_formatter_writes_exactly_points_line(
    device: str, quantity: str, value: float, moment: datetime, tags: dict[str, str]
) -> None:
    reading = Reading(device_id=device, time=moment, quantity=quantity, value=value, unit="x")
    left_out: list[str] = []
    tag_text = tag_set({"device": device, **tags}, lambda key, _error: left_out.append(key))
    point = POINT.Point(quantity).field("value", value).time(time_ns(moment), POINT.WritePrecision.NS)
    for key, tag in {"device": device, **tags}.items():
        if key not in left_out:
            point.tag(key, tag)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        expected = point.to_line_protocol()
    assert reading_line(reading, tag_text) == expected
    assert reading_lines([reading], tag_text) == [expected]


@given(st.datetimes(timezones=st.just(UTC)))
def test_time_ns_is_the_exact_nanoseconds_since_the_epoch(moment: datetime) -> None:
    assert time_ns(moment) == (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000
