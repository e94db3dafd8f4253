"""The decoder builds readings with ``Reading.model_construct`` (its fields are checked already): the same
``Reading`` as validation gives for the same (valid) fields."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.devices.reading import DEVICE_ID_PATTERN, Reading

fields = st.fixed_dictionaries(
    {
        "device_id": st.from_regex(DEVICE_ID_PATTERN.removesuffix("$") + r"\Z"),
        "time": st.datetimes(timezones=st.just(UTC)),
        "quantity": st.from_regex(r"^[a-z][a-z0-9_]*\Z"),
        "value": st.floats(allow_nan=False, allow_infinity=False),
        "unit": st.text(max_size=6),
    }
)


@given(fields)
def test_a_constructed_reading_equals_a_validated_reading(values: dict[str, object]) -> None:
    mine = Reading.model_construct(**values)  # type: ignore[arg-type]
    theirs = Reading.model_validate(values)
    assert mine == theirs
    assert mine.model_dump(mode="json") == theirs.model_dump(mode="json")
    assert mine.as_json() == theirs.as_json()
    assert mine.model_fields_set == theirs.model_fields_set
    assert hash(mine) == hash(theirs)


def test_a_constructed_reading_is_frozen() -> None:
    reading = Reading.model_construct(
        device_id="dev-1", time=datetime(2026, 1, 1, tzinfo=UTC), quantity="temperature", value=1.0, unit="degC"
    )
    try:
        reading.value = 2.0  # type: ignore[misc]
    except ValueError:
        return
    raise AssertionError("a Reading must stay frozen")
