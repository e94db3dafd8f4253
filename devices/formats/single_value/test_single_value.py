"""Single-value topics: the quantity and unit come from the topic, the payload is one bare number."""

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
from iot_suitcase.devices.formats import FormatContext, Message
from iot_suitcase.devices.formats.single_value import FORMAT

CASES = json.loads((Path(__file__).parent / "testdata" / "examples.json").read_text())["cases"]
RECEIVED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TOPIC = "suitcase/garden-1/temperature"


def decode(payload: bytes, topic: str | None = TOPIC, format_name: str = "auto") -> list[dict[str, Any]]:
    message = Message(payload=payload, received_at=RECEIVED, topic=topic)
    return [r.model_dump(mode="json") for r in Decoder().decode(message, format_name)]


def reject(payload: bytes, topic: str | None = TOPIC, format_name: str = "auto") -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(payload, topic, format_name)
    return caught.value


@pytest.mark.parametrize("case", CASES, ids=[case["topic"] for case in CASES])
def test_examples_decode_to_expected_readings(case: dict[str, Any]) -> None:
    got = decode(case["payload"].encode(), case["topic"])
    want = [
        {**r, "time": "2026-11-01T12:00:00Z", "value": pytest.approx(r["value"], rel=1e-12)} for r in case["readings"]
    ]
    assert got == want


@pytest.mark.parametrize(
    ("payload", "topic", "code", "reason_part"),
    [
        (b"", TOPIC, RejectCode.EMPTY_PAYLOAD, "empty"),
        (b"warm", TOPIC, RejectCode.WRONG_TYPE, "'warm' is not a bare number"),
        (b"21,5", TOPIC, RejectCode.WRONG_TYPE, "'21,5'"),
        (b"1_000", TOPIC, RejectCode.WRONG_TYPE, "'1_000'"),
        (b'{"value": 21.5}', TOPIC, RejectCode.WRONG_TYPE, "not a bare number"),
        (b"true", TOPIC, RejectCode.WRONG_TYPE, "'true'"),
        (b"21.5 degC", TOPIC, RejectCode.WRONG_TYPE, "'21.5 degC'"),
        (b"NaN", TOPIC, RejectCode.NOT_FINITE, "finite"),
        (b"-inf", TOPIC, RejectCode.NOT_FINITE, "finite"),
        (b"1e999", TOPIC, RejectCode.NOT_FINITE, "too large"),
        (b"\xff", TOPIC, RejectCode.NOT_UTF8, "UTF-8"),
        (b"100.5", TOPIC, RejectCode.OUT_OF_RANGE, "[-60, 100] degC"),
        (b"21", "suitcase/garden-1/temperature/kelvins", RejectCode.UNKNOWN_UNIT, "'kelvins'"),
        (b"21", "suitcase/garden-1/temprature", RejectCode.UNKNOWN_TOPIC, "no payload format"),
        (b"21", "suitcase/bad device/temperature", RejectCode.INVALID_DEVICE_ID, "not valid"),
        (b"21", "suitcase/garden-1/temperature/degC/x", RejectCode.UNKNOWN_TOPIC, "no payload format"),
        (b"21", "elsewhere/garden-1/temperature", RejectCode.UNKNOWN_TOPIC, "no payload format"),
    ],
)
def test_each_bad_message_gets_its_own_code(payload: bytes, topic: str, code: RejectCode, reason_part: str) -> None:
    error = reject(payload, topic)
    assert error.code is code
    assert reason_part in error.reason


def test_forced_format_needs_the_topic_shape() -> None:
    assert reject(b"21.5", None, "single_value").code is RejectCode.MISSING_DEVICE
    assert reject(b"21.5", "suitcase/garden-1", "single_value").code is RejectCode.UNKNOWN_TOPIC
    assert reject(b"21", "suitcase/garden-1/temprature", "single_value").code is RejectCode.UNKNOWN_QUANTITY


def test_reject_names_the_device() -> None:
    assert reject(b"warm").device_id == "garden-1"
    assert reject(b"500").device_id == "garden-1"


def test_topics_do_not_overlap_other_formats() -> None:
    """Native's <root>/<device>/up and the other formats' levels are no quantity, so never claimed here."""
    context = FormatContext(topic_root="suitcase")
    for topic in ("suitcase/dev/up", "suitcase/dev/senml", "suitcase/dev/airrohr", "suitcase/dev/", "suitcase//co2"):
        assert not FORMAT.matches_topic(topic, context)
    filters = FORMAT.topic_filters(context)
    assert "suitcase/+/temperature" in filters
    assert "suitcase/+/temperature/+" in filters
    assert not any(f.endswith(("/up", "/senml", "/airrohr", "/#")) or f == "suitcase/+/+" for f in filters)


@pytest.mark.parametrize(
    ("topic", "payload", "name"),
    [
        ("suitcase/dev-1/up", b'{"readings": {"temperature": 1}}', "native"),
        ("suitcase/dev-1/temperature", b"21.5", "single_value"),
        ("suitcase/dev-1/pressure/Pa", b"101325", "single_value"),
        (None, b"21.5\n", "single_value"),
        (None, b'{"readings": {"temperature": 1}}', "native"),
    ],
)
def test_auto_picks_the_right_format(topic: str | None, payload: bytes, name: str) -> None:
    assert Decoder().choose_format(Message(payload, RECEIVED, topic)).name == name


@settings(max_examples=300)
@given(
    payload=st.binary(max_size=80)
    | st.text(max_size=20).map(str.encode)
    | st.floats().map(lambda v: repr(v).encode())
    | st.integers().map(lambda v: str(v).encode()),
    topic=st.sampled_from([TOPIC, "suitcase/garden-1/pressure/Pa", "suitcase/x/co2/ppb"]),
)
def test_arbitrary_input_raises_only_decode_error(payload: bytes, topic: str) -> None:
    try:
        readings = decode(payload, topic)
    except DecodeError as error:
        rejected: DecodeError | None = error
    else:
        rejected = None
    if rejected is not None:
        assert rejected.reason
        assert rejected.code in RejectCode
        return
    assert len(readings) == 1
    assert math.isfinite(readings[0]["value"])
