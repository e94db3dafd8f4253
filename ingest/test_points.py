"""``reading_lines`` writes exactly the lines ``reading_line`` writes, one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from devices.reading import Reading
from ingest.points import reading_line, reading_lines

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
