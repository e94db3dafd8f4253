"""The native format: documented examples decode exactly; every kind of bad input gets its own code."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.formats.native import NativePayload
from iot_suitcase.devices.formats.native.schema import EXAMPLES
from iot_suitcase.devices.settings import DecodeSettings

TESTDATA = Path(__file__).parent / "testdata"
VECTORS = json.loads((TESTDATA / "expected.json").read_text())
RECEIVED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TOPIC = "suitcase/dev-1/up"


def decode(payload: bytes, topic: str | None = TOPIC, options: DecodeSettings | None = None) -> list[dict[str, Any]]:
    message = Message(payload=payload, received_at=RECEIVED, topic=topic)
    return [r.model_dump(mode="json") for r in Decoder(options or DecodeSettings()).decode(message)]


def reject(payload: bytes, topic: str | None = TOPIC, options: DecodeSettings | None = None) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(payload, topic, options)
    return caught.value


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_testdata_vectors_decode_to_expected_readings(name: str) -> None:
    vector = VECTORS[name]
    got = decode((TESTDATA / name).read_bytes(), vector["topic"])
    want = [{**r, "time": r["time"].replace("RECEIVED", "2026-11-01T12:00:00Z")} for r in vector["readings"]]
    assert [{**r, "value": pytest.approx(r["value"], rel=1e-12)} for r in want] == got


def test_schema_examples_are_valid_payloads() -> None:
    schema = NativePayload.model_json_schema()
    assert schema["examples"] == EXAMPLES
    assert schema["required"] == ["readings"]
    for example in EXAMPLES:
        assert decode(json.dumps(example).encode(), topic="suitcase/bin-0042/up")


@pytest.mark.parametrize(
    ("payload", "code", "reason_part"),
    [
        (b"", RejectCode.EMPTY_PAYLOAD, "empty"),
        (b"  \n", RejectCode.EMPTY_PAYLOAD, "empty"),
        (b'{"readings": {"temperature": 21.5', RejectCode.MALFORMED_JSON, "not valid JSON"),
        (b"\xff\xfe", RejectCode.MALFORMED_JSON, "not valid JSON"),
        (b"[1, 2]", RejectCode.WRONG_TYPE, "payload: expected a JSON object, got an array"),
        (b'{"readings": {"temperature": "21.5"}}', RejectCode.WRONG_TYPE, "readings.temperature: expected a number"),
        (b'{"readings": {"temperature": true}}', RejectCode.WRONG_TYPE, "got a boolean"),
        (b'{"readings": {"temperature": {"value": "1"}}}', RejectCode.WRONG_TYPE, "readings.temperature.value"),
        (b'{"readings": [21.5]}', RejectCode.WRONG_TYPE, "readings: expected an object"),
        (b'{"readings": {"temperature": 1}, "time": true}', RejectCode.WRONG_TYPE, "time: expected"),
        (b'{"readings": {"temperature": NaN}}', RejectCode.NOT_FINITE, "finite"),
        (b'{"readings": {"temperature": Infinity}}', RejectCode.NOT_FINITE, "finite"),
        (b'{"readings": {"temperature": -Infinity}}', RejectCode.NOT_FINITE, "finite"),
        (b'{"readings": {"temperature": 1e999}}', RejectCode.NOT_FINITE, "finite"),
        (b'{"readings": {"temperature": 100.5}}', RejectCode.OUT_OF_RANGE, "[-60, 100] degC"),
        (b'{"readings": {"temperature": {"value": 213, "unit": "degF"}}}', RejectCode.OUT_OF_RANGE, "100.556"),
        (b'{"readings": {"co2": -1}}', RejectCode.OUT_OF_RANGE, "co2"),
        (b'{"readings": {"temprature": 21}}', RejectCode.UNKNOWN_QUANTITY, "'temprature'"),
        (b'{"readings": {"temperature": {"value": 21, "unit": "kelvins"}}}', RejectCode.UNKNOWN_UNIT, "'kelvins'"),
        (b'{"readings": {"humidity": {"value": 21, "unit": "%EL"}}}', RejectCode.UNKNOWN_UNIT, "%RH"),
        (b'{"readings": {}}', RejectCode.NO_READINGS, "at least one"),
        (b'{"time": "2026-11-01T10:00:00Z"}', RejectCode.MISSING_FIELD, "readings"),
        (b'{"readings": {"temperature": 1}, "tme": 5}', RejectCode.UNKNOWN_FIELD, "tme"),
        (b'{"readings": {"temperature": 1}, "time": "yesterday"}', RejectCode.BAD_TIME, "RFC 3339"),
        (b'{"readings": {"temperature": 1}, "time": "2026-11-01T10:00:00"}', RejectCode.BAD_TIME, "no UTC offset"),
        (b'{"readings": {"temperature": 1}, "time": 0}', RejectCode.BAD_TIME, "clock set"),
        (b'{"readings": {"temperature": 1}, "time": 1e15}', RejectCode.BAD_TIME, "epoch"),
        (b'{"readings": {"temperature": 1}, "time": "2999-01-01T00:00:00Z"}', RejectCode.TIME_IN_FUTURE, "ahead"),
        (b'{"readings": {"temperature": 1}, "device": "dev-2"}', RejectCode.DEVICE_MISMATCH, "'dev-2'"),
        (b'{"readings": {"temperature": 1}, "device": "a b"}', RejectCode.INVALID_DEVICE_ID, "device"),
    ],
)
def test_each_bad_payload_gets_its_own_code(payload: bytes, code: RejectCode, reason_part: str) -> None:
    error = reject(payload)
    assert error.code is code
    assert reason_part in error.reason


def test_oversized_payload_is_rejected_before_parsing() -> None:
    readings = ", ".join(f'"temperature": {i % 50}' for i in range(8000))
    payload = f'{{"readings": {{{readings}}}}}'.encode()
    assert len(payload) > 64 * 1024
    assert reject(payload).code is RejectCode.PAYLOAD_TOO_LARGE
    assert (
        reject(b'{"readings": {"temperature": 1}}', TOPIC, DecodeSettings(max_payload_bytes=10)).code
        is RejectCode.PAYLOAD_TOO_LARGE
    )


def test_device_comes_from_topic_or_payload() -> None:
    assert decode(b'{"readings": {"rain": 1.5}}', topic="suitcase/gauge-7/up")[0]["device_id"] == "gauge-7"
    assert decode(b'{"device": "gauge-8", "readings": {"rain": 1.5}}', topic=None)[0]["device_id"] == "gauge-8"
    assert reject(b'{"readings": {"rain": 1.5}}', topic=None).code is RejectCode.MISSING_DEVICE
    assert reject(b'{"readings": {"rain": 1}}', topic="suitcase/bad device/up").code is RejectCode.INVALID_DEVICE_ID
    assert reject(b'{"readings": {"rain": 1}}', topic="elsewhere/dev/up").code is RejectCode.UNKNOWN_TOPIC


def test_reject_names_the_device_when_known() -> None:
    assert reject(b'{"readings": {"temperature": 500}}').device_id == "dev-1"
    assert reject(b"not json").device_id == "dev-1"


def test_epoch_seconds_and_milliseconds_mean_the_same_moment() -> None:
    seconds = decode(b'{"readings": {"rain": 1}, "time": 1793520900}')
    millis = decode(b'{"readings": {"rain": 1}, "time": 1793520900000}')
    fractional = decode(b'{"readings": {"rain": 1}, "time": 1793520900.25}')
    assert seconds == millis
    assert seconds[0]["time"] == "2026-11-01T08:15:00Z"
    assert fractional[0]["time"] == "2026-11-01T08:15:00.250000Z"


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
payload_like = st.fixed_dictionaries(
    {"readings": st.dictionaries(st.sampled_from(["temperature", "co2", "x", ""]), json_values, max_size=3)},
    optional={"time": json_values, "device": json_values},
)


@settings(max_examples=300)
@given(
    payload=st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | payload_like.map(lambda v: json.dumps(v).encode())
)
def test_arbitrary_input_raises_only_decode_error(payload: bytes) -> None:
    try:
        readings = decode(payload)
    except DecodeError as error:
        rejected: DecodeError | None = error
    else:
        rejected = None
    if rejected is not None:
        assert rejected.reason
        assert rejected.code in RejectCode
        return
    for reading in readings:
        assert math.isfinite(reading["value"])
