"""The decoder builds readings with ``Reading.checked`` (its fields are checked already): the same ``Reading``
as ``model_construct`` and as validation give for the same (valid) fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.devices import reading
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.reading import DEVICE_ID_PATTERN, Reading, check_device_id

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
    theirs = Reading.model_validate(values)
    for mine in (Reading.model_construct(**values), Reading.checked(**values)):  # type: ignore[arg-type]
        assert mine == theirs
        assert mine.model_dump(mode="json") == theirs.model_dump(mode="json")
        assert mine.as_json() == theirs.as_json()
        assert mine.model_fields_set == theirs.model_fields_set
        assert hash(mine) == hash(theirs)
        assert mine.__pydantic_extra__ == theirs.__pydantic_extra__
        assert mine.__pydantic_private__ == theirs.__pydantic_private__


def test_checked_readings_rest_on_a_model_without_defaults_aliases_or_private_attributes() -> None:
    """What ``Reading.checked`` leaves out of ``model_construct``: a field with a default or an alias, or a
    private attribute, would need it again."""
    assert all(field.is_required() and field.alias is None for field in Reading.model_fields.values())
    assert not Reading.__private_attributes__
    assert not Reading.__pydantic_post_init__
    assert Reading.model_config.get("extra") == "forbid"


def test_checked_readings_do_not_share_their_fields_set() -> None:
    one = Reading.checked("dev-1", datetime(2026, 1, 1, tzinfo=UTC), "temperature", 1.0, "degC")
    other = Reading.checked("dev-2", datetime(2026, 1, 1, tzinfo=UTC), "temperature", 2.0, "degC")
    assert one.model_fields_set is not other.model_fields_set


def test_a_constructed_reading_is_frozen() -> None:
    reading = Reading.checked("dev-1", datetime(2026, 1, 1, tzinfo=UTC), "temperature", 1.0, "degC")
    try:
        reading.value = 2.0  # type: ignore[misc]
    except ValueError:
        return
    raise AssertionError("a Reading must stay frozen")


def test_valid_ids_remembered_stay_bounded_and_an_invalid_id_is_never_taken_for_valid() -> None:
    for n in range(25_000):
        assert check_device_id(f"dev-{n}") == f"dev-{n}"
        assert len(reading._valid) <= reading._VALID_KEPT
    for bad in ("suitcase-ingest", "a/b", "", "x" * 65, "dev-1:", "dev 1"):
        for _ in range(2):
            with pytest.raises(DecodeError) as refused:
                check_device_id(bad)
            assert refused.value.code == RejectCode.INVALID_DEVICE_ID
