"""Input that parsers would take silently and wrongly is rejected (#13 point 10)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.formats.unique_keys import check_unique_keys, count_keys
from iot_suitcase.devices.timestamps import parse_timestamp

NOW = datetime.now(UTC)


def reject(topic: str, payload: bytes) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        Decoder().decode(Message(payload, NOW, topic))
    return caught.value


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("suitcase/kit-1/up", b'{"readings": {"co2": 400, "co2": 9000}}'),
        ("suitcase/kit-1/up", b'{"readings": {"co2": 400}, "readings": {"co2": 9000}}'),
        ("suitcase/kit-1/up", b'{"readings": {"co2": {"value": 4, "value": 9, "unit": "ppm"}}}'),
        ("suitcase/kit-1/senml", b'[{"n": "temperature", "v": 1, "v": 2}]'),
        ("suitcase/esp8266-1/airrohr", b'{"esp8266id": "1", "esp8266id": "2", "sensordatavalues": []}'),
        ("application/1/device/0101010101010101/event/up", b'{"deviceInfo": {"devEui": "a", "devEui": "b"}}'),
    ],
)
def test_a_repeated_json_key_is_rejected_not_taken_last_wins(topic: str, payload: bytes) -> None:
    error = reject(topic, payload)
    assert error.code is RejectCode.MALFORMED_JSON
    assert "repeats the key" in error.reason


def test_a_colon_inside_a_string_is_not_taken_for_a_repeated_key() -> None:
    readings = Decoder().decode(
        Message(b'{"readings": {"co2": {"value": 400, "unit": "ppm"}}, "device": "kit-1"}', NOW, "suitcase/kit-1/up")
    )
    assert [r.value for r in readings] == [400.0]
    error = reject("suitcase/kit-1/up", b'{"readings": {"co2": {"value": 1, "unit": "\\":x"}}}')
    assert error.code is RejectCode.UNKNOWN_UNIT, "a string with a quote-colon inside still decodes normally"


@pytest.mark.parametrize(
    "text", ["2026-11-01T10:00:030Z", "2026-11-01T10:00Z", "2026-11-01T1:00:00Z", "20261101T100000Z", "2026-11-01"]
)
def test_times_that_are_not_rfc_3339_are_rejected(text: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_timestamp(text)
    assert caught.value.code is RejectCode.BAD_TIME


def test_rfc_3339_forms_are_read_exactly() -> None:
    assert parse_timestamp("2026-11-01t10:00:03.123456789z") == datetime(2026, 11, 1, 10, 0, 3, 123456, tzinfo=UTC)
    assert parse_timestamp("2026-11-01 11:00:03+01:00") == datetime(2026, 11, 1, 10, 0, 3, tzinfo=UTC)


# JSON objects written as pairs, so keys may repeat; strings may hold '":' to tempt the fast path.
_strings = st.text(alphabet=st.sampled_from('ab":\\ '), max_size=4)
_json_text = st.recursive(
    st.one_of(st.integers(-5, 5).map(str), _strings.map(json.dumps)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(_strings.map(json.dumps), inner), max_size=3).map(
            lambda pairs: "{" + ", ".join(f"{key} : {value}" for key, value in pairs) + "}"
        ),
    ),
    max_leaves=8,
)


def _repeats_a_key(text: str) -> bool:
    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        if len({key for key, _ in pairs}) < len(pairs):
            raise KeyError("repeated")
        return dict(pairs)

    try:
        json.loads(text, object_pairs_hook=unique)
    except KeyError:
        return True
    return False


@given(_json_text)
def test_the_fast_repeated_key_check_equals_a_full_parse_with_a_pairs_hook(text: str) -> None:
    payload = text.encode()
    try:
        check_unique_keys(payload, count_keys(json.loads(payload)))
    except DecodeError:
        assert _repeats_a_key(text)
    else:
        assert not _repeats_a_key(text)


@settings(max_examples=2000)
@given(
    st.integers(0, 10**14 - 1)
    | st.floats(0, 1e14, exclude_max=True, allow_nan=False)
    | st.integers(10**11, 2 * 10**12)
    | st.floats(1e9, 2e9)
)
def test_an_epoch_number_is_the_moment_the_epoch_plus_that_many_seconds_is(raw: float) -> None:
    seconds = raw / 1000 if raw >= 1e11 else raw
    assert parse_timestamp(raw) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
