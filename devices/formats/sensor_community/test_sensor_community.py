"""sensor.community: the published airrohr payloads decode to canonical readings; bad ones get their codes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats import FormatContext, Message
from iot_suitcase.devices.formats.sensor_community import FORMAT
from iot_suitcase.devices.formats.sensor_community.value_types import IGNORED, PRECEDENCE, VALUE_TYPES

TESTDATA = Path(__file__).parent / "testdata"
VECTORS = {
    name: vector for name, vector in json.loads((TESTDATA / "expected.json").read_text()).items() if name[0] != "_"
}
RECEIVED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TOPIC = "suitcase/esp8266-12331981/airrohr"
GOOD = (TESTDATA / "macbre-airrohr-prometheus-exporter.json").read_bytes()


def decode(payload: bytes, topic: str | None = TOPIC, format_name: str = "auto") -> list[dict[str, Any]]:
    message = Message(payload=payload, received_at=RECEIVED, topic=topic)
    return [r.model_dump(mode="json") for r in Decoder().decode(message, format_name)]


def reject(payload: bytes, topic: str | None = TOPIC) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(payload, topic)
    return caught.value


def body(*entries: tuple[str, object], **fields: object) -> bytes:
    """An airrohr message with these sensordatavalues; a field given as None is left out."""
    values = [{"value_type": name, "value": value} for name, value in entries]
    message = {"esp8266id": "12331981", "software_version": "NRZ-2020-129", "sensordatavalues": values, **fields}
    return json.dumps({key: value for key, value in message.items() if value is not None}).encode()


def by_quantity(readings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(readings, key=lambda r: r["quantity"])


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_published_examples_decode_to_expected_readings(name: str) -> None:
    vector = VECTORS[name]
    got = decode((TESTDATA / name).read_bytes(), vector["topic"])
    want = [
        {**r, "time": "2026-11-01T12:00:00Z", "value": pytest.approx(r["value"], rel=1e-12)} for r in vector["readings"]
    ]
    assert by_quantity(got) == by_quantity(want)


def test_tables_name_only_catalog_quantities_and_never_overlap() -> None:
    catalog = load_catalog()
    for value_type, known in VALUE_TYPES.items():
        quantity = catalog.quantity(known.quantity)
        assert known.unit in quantity.accepted_units, value_type
    assert not set(VALUE_TYPES) & IGNORED
    assert sum(len(names) for names in PRECEDENCE.values()) == len(VALUE_TYPES), "a value_type in two lists"


@pytest.mark.parametrize(
    ("entries", "quantity", "value"),
    [
        ((("temperature", "19.0"), ("BME280_temperature", "21.5")), "temperature", 21.5),
        ((("BME280_temperature", "21.5"), ("temperature", "19.0")), "temperature", 21.5),
        (
            (("DS18B20_temperature", "4.0"), ("SHT3X_temperature", "5.0"), ("BMP280_temperature", "6.0")),
            "temperature",
            5.0,
        ),
        ((("PMS_P1", "30"), ("SDS_P1", "20"), ("SPS30_P1", "25")), "pm10", 20.0),
        ((("BMP_pressure", "100000"), ("BMP280_pressure", "101000")), "pressure", 1010.0),
        ((("humidity", "70"), ("HTU21D_humidity", "60")), "humidity", 60.0),
    ],
)
def test_the_sensor_the_firmware_displays_wins(
    entries: tuple[tuple[str, str], ...], quantity: str, value: float
) -> None:
    readings = [r for r in decode(body(*entries)) if r["quantity"] == quantity]
    assert [r["value"] for r in readings] == [pytest.approx(value)]


def test_json_numbers_are_accepted_like_the_firmware_strings() -> None:
    assert decode(body(("SDS_P1", 12.5), ("signal", -70)))[0]["value"] == 12.5


@pytest.mark.parametrize(
    ("payload", "code", "reason_part"),
    [
        (b"", RejectCode.EMPTY_PAYLOAD, "empty"),
        (b'{"esp8266id": "1", "sensordatavalues": [', RejectCode.MALFORMED_JSON, "not valid JSON"),
        (b"\xff{}", RejectCode.NOT_UTF8, "UTF-8"),
        (b'[{"value_type": "SDS_P1", "value": "1"}]', RejectCode.WRONG_TYPE, "expected a JSON object, got an array"),
        (b'{"esp8266id": "1"}', RejectCode.MISSING_FIELD, "sensordatavalues"),
        (b'{"sensordatavalues": [], "timestamp": "x"}', RejectCode.UNKNOWN_FIELD, "'timestamp'"),
        (b'{"sensordatavalues": {"SDS_P1": "1"}}', RejectCode.WRONG_TYPE, "expected an array, got an object"),
        (body(), RejectCode.NO_READINGS, "no value with a catalog quantity"),
        (body(("samples", "1"), ("signal_", "-70")), RejectCode.UNKNOWN_QUANTITY, "unknown value_type"),
        (body(("samples", "1"), ("min_micro", "2")), RejectCode.NO_READINGS, "only diagnostics"),
        (b'{"sensordatavalues": ["SDS_P1"]}', RejectCode.WRONG_TYPE, "sensordatavalues[0]: expected an object"),
        (b'{"sensordatavalues": [{"value_type": "SDS_P1"}]}', RejectCode.MISSING_FIELD, "sensordatavalues[0].value"),
        (b'{"sensordatavalues": [{"value": "1"}]}', RejectCode.MISSING_FIELD, "value_type"),
        (
            b'{"sensordatavalues": [{"value_type": 1, "value": "1"}]}',
            RejectCode.WRONG_TYPE,
            "value_type: expected a string",
        ),
        (
            b'{"sensordatavalues": [{"value_type": "SDS_P1", "value": "1", "id": 5}]}',
            RejectCode.UNKNOWN_FIELD,
            "'id'",
        ),
        (body(("SDS_P1", "twelve")), RejectCode.WRONG_TYPE, "value 'twelve' is not a number"),
        (body(("SDS_P1", "12,5")), RejectCode.WRONG_TYPE, "'12,5'"),
        (body(("SDS_P1", True)), RejectCode.WRONG_TYPE, "got a boolean"),
        (b'{"sensordatavalues": [{"value_type": "SDS_P1", "value": null}]}', RejectCode.WRONG_TYPE, "got null"),
        (body(("SDS_P1", "nan")), RejectCode.NOT_FINITE, "'nan'"),
        (body(("BME280_temperature", "ovf")), RejectCode.NOT_FINITE, "'ovf'"),
        (body(("SDS_P1", "1e999")), RejectCode.NOT_FINITE, "finite"),
        (body(("SDS_P1", "1"), ("SDS_P1", "2")), RejectCode.DUPLICATE_READING, "sent twice"),
        (body(("SDS_P1", "-1")), RejectCode.OUT_OF_RANGE, "pm10"),
        (body(("BME280_pressure", "1013.25")), RejectCode.OUT_OF_RANGE, "pressure: 10.1325 hPa"),
        (body(("signal", "-70"), esp8266id=12331981), RejectCode.WRONG_TYPE, "esp8266id: expected a string"),
        (body(("signal", "-70"), software_version=["x"]), RejectCode.WRONG_TYPE, "software_version"),
    ],
)
def test_each_bad_message_gets_its_own_code(payload: bytes, code: RejectCode, reason_part: str) -> None:
    error = reject(payload)
    assert error.code is code
    assert reason_part in error.reason


@pytest.mark.parametrize(
    ("payload", "topic", "code"),
    [
        (body(("signal", "-70"), esp8266id=None), None, RejectCode.MISSING_DEVICE),
        (body(("signal", "-70"), esp8266id=""), None, RejectCode.MISSING_DEVICE),
        (body(("signal", "-70"), esp8266id="12 34"), None, RejectCode.INVALID_DEVICE_ID),
        (body(("signal", "-70")), "suitcase/a b/airrohr", RejectCode.INVALID_DEVICE_ID),
    ],
)
def test_device_problems(payload: bytes, topic: str | None, code: RejectCode) -> None:
    assert reject(payload, topic).code is code


def test_device_is_the_topic_device_else_the_firmware_name() -> None:
    assert {r["device_id"] for r in decode(GOOD, "suitcase/balcony-2/airrohr")} == {"balcony-2"}
    assert {r["device_id"] for r in decode(GOOD, None)} == {"esp8266-12331981"}


def test_chip_id_and_firmware_version_travel_as_extras() -> None:
    decoded = FORMAT.decode(Message(GOOD, RECEIVED, TOPIC), FormatContext(topic_root="suitcase"))
    assert decoded.extras == {"esp8266id": "12331981", "software_version": "NRZ-2020-129"}


def test_reject_names_the_topic_device() -> None:
    assert reject(b"{", TOPIC).device_id == "esp8266-12331981"


@pytest.mark.parametrize(
    ("topic", "name"),
    [("suitcase/esp8266-12331981/airrohr", "sensor_community"), (None, "sensor_community")],
)
def test_auto_picks_sensor_community_by_topic_and_by_shape(topic: str | None, name: str) -> None:
    assert Decoder().choose_format(Message(GOOD, RECEIVED, topic)).name == name


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
entries = st.fixed_dictionaries(
    {
        "value_type": st.sampled_from([*sorted(VALUE_TYPES)[:8], "samples", "GPS_lat", "x", ""]),
        "value": st.floats().map(str) | st.text(max_size=8) | json_values,
    },
    optional={"id": st.integers()},
)
airrohr_like = st.fixed_dictionaries(
    {"sensordatavalues": st.lists(entries, max_size=5)},
    optional={"esp8266id": json_values, "software_version": json_values, "age": json_values},
)


@settings(max_examples=300)
@given(
    payload=st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | airrohr_like.map(lambda v: json.dumps(v).encode()),
    topic=st.sampled_from([TOPIC, None]),
)
def test_arbitrary_input_raises_only_decode_error(payload: bytes, topic: str | None) -> None:
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
    for reading in readings:
        assert math.isfinite(reading["value"])
