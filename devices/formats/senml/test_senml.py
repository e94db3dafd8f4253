"""SenML: the RFC 8428 examples decode (or are rejected) as documented; bad packs get their own codes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.formats.senml.resolve import load_pack, resolve

TESTDATA = Path(__file__).parent / "testdata"
VECTORS = {
    name: vector for name, vector in json.loads((TESTDATA / "expected.json").read_text()).items() if name[0] != "_"
}
RECEIVED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TOPIC = "suitcase/dev-1/senml"


def decode(payload: bytes, topic: str | None = TOPIC, format_name: str = "senml") -> list[dict[str, Any]]:
    message = Message(payload=payload, received_at=RECEIVED, topic=topic)
    return [r.model_dump(mode="json") for r in Decoder().decode(message, format_name)]


def reject(payload: bytes, topic: str | None = TOPIC) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(payload, topic)
    return caught.value


def _time(text: str) -> str:
    if text == "RECEIVED":
        return "2026-11-01T12:00:00Z"
    if text == "RECEIVED-60":
        return "2026-11-01T11:59:00Z"
    return text


@pytest.mark.parametrize("name", sorted(name for name, vector in VECTORS.items() if "readings" in vector))
def test_examples_decode_to_expected_readings(name: str) -> None:
    vector = VECTORS[name]
    got = decode((TESTDATA / name).read_bytes(), vector["topic"], format_name="auto")
    want = [{**r, "time": _time(r["time"]), "value": pytest.approx(r["value"], rel=1e-12)} for r in vector["readings"]]
    assert got == want


@pytest.mark.parametrize("name", sorted(name for name, vector in VECTORS.items() if "error" in vector))
def test_examples_without_catalog_meaning_are_rejected_whole(name: str) -> None:
    vector = VECTORS[name]
    error = reject((TESTDATA / name).read_bytes(), vector["topic"])
    assert error.code == vector["error"]["code"]
    assert vector["error"]["reason"] in error.reason


def test_multiple_measurements_resolve_to_the_rfc_resolved_form() -> None:
    """RFC 8428 5.1.4 is 5.1.3 resolved: the resolver must give exactly those records."""
    records = resolve(load_pack((TESTDATA / "rfc8428-5.1.3-multiple-measurements.json").read_bytes()), RECEIVED)
    resolved = json.loads((TESTDATA / "rfc8428-5.1.4-resolved-data.json").read_text())
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert [(r.name, r.unit, r.time, r.value) for r in records] == [
        (want["n"], want["u"], epoch + timedelta(seconds=want["t"]), want["v"]) for want in resolved
    ]


def test_base_fields_last_until_a_record_sets_them_again() -> None:
    pack = load_pack(
        b'[{"bn":"a:","bu":"Cel","bv":20,"n":"t1","v":1},{"n":"t2","v":2},'
        b'{"bn":"b:","bu":"K","n":"t3","v":3},{"bs":5,"n":"t4","v":4},{"n":"t5","s":1}]'
    )
    records = resolve(pack, RECEIVED)
    assert [(r.name, r.unit, r.value, r.sum) for r in records] == [
        ("a:t1", "Cel", 21.0, None),
        ("a:t2", "Cel", 22.0, None),
        ("b:t3", "K", 23.0, None),
        ("b:t4", "K", 24.0, 5.0),
        ("b:t5", "K", None, 6.0),
    ]


def test_relative_time_counts_from_the_receive_time_and_absolute_from_the_epoch() -> None:
    records = resolve(load_pack(b'[{"n":"x","v":1,"t":-90.5},{"n":"y","v":1,"t":268435456}]'), RECEIVED)
    assert records[0].time == RECEIVED - timedelta(seconds=90.5)
    assert records[1].time == datetime(1978, 7, 4, 21, 24, 16, tzinfo=UTC)  # 2**28, the RFC's earliest


@pytest.mark.parametrize(
    ("payload", "topic", "device"),
    [
        (b'[{"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","v":1}]', None, "ow-10e2073a01080063"),
        (b'[{"n":"device-1/temperature","v":1}]', None, "device-1"),
        (b'[{"n":"urn:dev:mac:0024befffe804ff1","u":"Cel","v":1}]', None, "mac-0024befffe804ff1"),
        (b'[{"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","v":1}]', "suitcase/boiler-2/senml", "boiler-2"),
        (b'[{"n":"temperature","v":1}]', "suitcase/boiler-2/senml", "boiler-2"),
        (b'[{"u":"Cel","v":1}]', "suitcase/boiler-2/senml", "boiler-2"),
    ],
)
def test_device_comes_from_the_topic_else_from_the_names(payload: bytes, topic: str | None, device: str) -> None:
    assert {r["device_id"] for r in decode(payload, topic, "auto")} == {device}


@pytest.mark.parametrize(
    ("name", "unit", "value", "quantity"),
    [
        ("dev:Temperature", None, 21, "temperature"),
        ("dev:temp", "K", 290, "temperature"),
        ("dev:hum", "%RH", 40, "humidity"),
        ("dev:pm2.5", "ug/m3", 12, "pm2_5"),
        ("dev:battery-voltage", "mV", 3600, "battery_voltage"),
        ("dev:sensor0", "lx", 300, "illuminance"),
        ("dev:sensor0", "%EL", 80, "battery"),
        ("dev:sensor0", "hPa", 1000, "pressure"),
    ],
)
def test_quantity_comes_from_the_name_else_from_the_unit(
    name: str, unit: str | None, value: float, quantity: str
) -> None:
    record = {"n": name, "v": value} if unit is None else {"n": name, "u": unit, "v": value}
    assert [r["quantity"] for r in decode(json.dumps([record]).encode())] == [quantity]


def test_senml_percent_is_a_ratio_not_a_percentage() -> None:
    assert decode(b'[{"n":"humidity","u":"%","v":0.5}]')[0]["value"] == 50.0
    assert decode(b'[{"n":"humidity","u":"/100","v":50}]')[0]["value"] == 50.0
    assert reject(b'[{"n":"humidity","u":"%","v":50}]').code is RejectCode.OUT_OF_RANGE


@pytest.mark.parametrize("version", [1, 5, 10, 26, 31])
def test_versions_up_to_the_secondary_units_feature_are_accepted(version: int) -> None:
    assert decode(json.dumps([{"bver": version, "n": "temperature", "v": 1}]).encode())


@pytest.mark.parametrize(
    ("payload", "code", "reason_part"),
    [
        (b"", RejectCode.EMPTY_PAYLOAD, "empty"),
        (b'[{"n":"temperature","v":21', RejectCode.MALFORMED_JSON, "not valid JSON"),
        (b'[{"n":"temperature","v":NaN}]', RejectCode.MALFORMED_JSON, "not valid JSON"),
        (b"\xff\xfe[]", RejectCode.NOT_UTF8, "not UTF-8"),
        (b'{"n":"temperature","v":21}', RejectCode.WRONG_TYPE, "JSON array of records, got an object"),
        (b"[]", RejectCode.NO_READINGS, "empty"),
        (b'[{"bn":"dev:"}]', RejectCode.NO_READINGS, "no record"),
        (b"[21.5]", RejectCode.WRONG_TYPE, "record 0: expected an object, got a number"),
        (b'[{"n":"temperature","v":"21"}]', RejectCode.WRONG_TYPE, "record 0: v must be a number, got a string"),
        (b'[{"n":"temperature","v":true}]', RejectCode.WRONG_TYPE, "v must be a number, got a boolean"),
        (b'[{"bn":5,"n":"temperature","v":1}]', RejectCode.WRONG_TYPE, "bn must be a string"),
        (b'[{"n":"temperature","v":1,"t":"now"}]', RejectCode.WRONG_TYPE, "t must be a number"),
        (b'[{"n":"temperature","v":1,"vs":"x"}]', RejectCode.WRONG_TYPE, "both 'v' and 'vs'"),
        (b'[{"n":"open","vb":"yes"}]', RejectCode.WRONG_TYPE, "vb must be a boolean"),
        (b'[{"n":"open","vb":false}]', RejectCode.NO_READINGS, "1 vb record(s) skipped"),
        (b'[{"n":"temperature","v":1e999}]', RejectCode.NOT_FINITE, "record 0: v"),
        (b'[{"bv":1e308,"n":"temperature","v":1e308}]', RejectCode.NOT_FINITE, "v plus bv"),
        (b'[{"n":"temperature","u":"Cel"}]', RejectCode.MISSING_FIELD, "no value"),
        (b'[{"n":"temperature","v":1,"x_":1}]', RejectCode.UNKNOWN_FIELD, "must-understand field 'x_'"),
        (b'[{"n":"a b","u":"Cel","v":1}]', RejectCode.WRONG_TYPE, "not a SenML name"),
        (b'[{"n":"happiness","v":7}]', RejectCode.UNKNOWN_QUANTITY, "'happiness'"),
        (b'[{"n":"temperature","u":"%RH","v":1}]', RejectCode.UNKNOWN_UNIT, "'%RH'"),
        (b'[{"n":"noise","u":"dB","v":55}]', RejectCode.UNKNOWN_UNIT, "noise_laeq: unknown unit 'dB'"),
        (b'[{"n":"temperature","v":500}]', RejectCode.OUT_OF_RANGE, "[-60, 100] degC"),
        (b'[{"n":"temperature","s":5}]', RejectCode.UNKNOWN_QUANTITY, "the sum (s) of temperature"),
        (b'[{"n":"temperature","v":1,"s":5}]', RejectCode.UNKNOWN_QUANTITY, "only the sum of a power record"),
        (b'[{"n":"power","u":"W","v":1,"s":-5}]', RejectCode.OUT_OF_RANGE, "energy"),
        (b'[{"n":"temperature","v":1},{"n":"temp","v":2}]', RejectCode.DUPLICATE_READING, "two records"),
        (b'[{"n":"temperature","v":1,"t":1e10}]', RejectCode.TIME_IN_FUTURE, "ahead"),
        (b'[{"n":"temperature","v":1,"t":300000000}]', RejectCode.BAD_TIME, "before 2000"),
        (b'[{"n":"temperature","v":1,"t":-1e12}]', RejectCode.BAD_TIME, "outside the years 1970..9999"),
        (b'[{"bver":32,"n":"temperature","v":1}]', RejectCode.UNSUPPORTED_VERSION, "version 32"),
        (
            b'[{"bver":10,"n":"temperature","v":1},{"bver":5,"n":"hum","v":1}]',
            RejectCode.UNSUPPORTED_VERSION,
            "differs",
        ),
        (b'[{"bver":0,"n":"temperature","v":1}]', RejectCode.WRONG_TYPE, "positive integer"),
        (b'[{"bver":10.5,"n":"temperature","v":1}]', RejectCode.WRONG_TYPE, "positive integer"),
    ],
)
def test_each_bad_pack_gets_its_own_code(payload: bytes, code: RejectCode, reason_part: str) -> None:
    error = reject(payload)
    assert error.code is code
    assert reason_part in error.reason


@pytest.mark.parametrize(
    ("payload", "topic", "code"),
    [
        (b'[{"n":"temperature","v":1}]', None, RejectCode.MISSING_DEVICE),
        (b'[{"n":"building/floor-1/temperature","v":1}]', None, RejectCode.INVALID_DEVICE_ID),
        (b'[{"n":"temperature","v":1}]', "suitcase/a b/senml", RejectCode.INVALID_DEVICE_ID),
        (b'[{"n":"temperature","v":1}]', "elsewhere/dev/senml", RejectCode.UNKNOWN_TOPIC),
    ],
)
def test_device_problems(payload: bytes, topic: str | None, code: RejectCode) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(payload, topic, "auto")
    assert caught.value.code is code


def test_reject_names_the_topic_device() -> None:
    assert reject(b'[{"n":"temperature","v":500}]').device_id == "dev-1"
    assert reject(b"[{").device_id == "dev-1"


def test_unknown_labels_are_ignored_as_rfc_8428_requires() -> None:
    assert decode(b'[{"n":"temperature","v":1,"foo":[1,2],"ut":60}]')[0]["value"] == 1.0


def test_auto_picks_senml_by_topic_and_by_shape() -> None:
    decoder = Decoder()
    payload = (TESTDATA / "rfc8428-5.1.1-single-datapoint.json").read_bytes()
    assert decoder.choose_format(Message(payload, RECEIVED, TOPIC)).name == "senml"
    assert decoder.choose_format(Message(payload, RECEIVED, None)).name == "senml"
    assert decoder.formats["senml"].topic_filters(decoder.context) == ["suitcase/+/senml"]


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
labels = st.sampled_from(["bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut", "x_"])
field_values = st.one_of(
    st.floats(allow_nan=False, width=64),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from(["temperature", "dev:", "Cel", "%RH", "%", "W", "lon", "", "a b", "urn:dev:ow:1:"]),
    st.booleans(),
    json_values,
)
records = st.dictionaries(labels, field_values, max_size=6)
plausible_records = st.fixed_dictionaries(
    {
        "n": st.sampled_from(["temperature", "humidity", "temp", "co2", "power", "x"]),
        "v": st.floats(min_value=-100, max_value=2000),
    },
    optional={
        "bn": st.sampled_from(["dev:", "urn:dev:ow:10e2073a01080063:", "a/"]),
        "u": st.sampled_from(["Cel", "%RH", "%", "ppm", "W", "K"]),
        "t": st.floats(min_value=-1e6, max_value=0),
        "s": st.floats(min_value=0, max_value=1e9),
    },
)


@settings(max_examples=400)
@given(
    payload=st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.lists(records, min_size=1, max_size=5).map(lambda v: json.dumps(v).encode())
    | st.lists(plausible_records, min_size=1, max_size=4).map(lambda v: json.dumps(v).encode()),
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
    assert readings
    for reading in readings:
        assert math.isfinite(reading["value"])


def test_string_boolean_and_data_records_are_skipped_and_counted_the_numbers_stored() -> None:
    """#16 point 5: RFC 8428 allows vs, vb and vd records beside numeric ones (its 5.1.5); a gateway's pack
    with them was rejected whole."""
    pack = (TESTDATA / "rfc8428-5.1.5-multiple-data-types.json").read_bytes()
    outcome = Decoder().decode_message(Message(payload=pack, received_at=RECEIVED, topic=None), "senml")
    assert [r.quantity for r in outcome.readings] == ["temperature"]
    assert outcome.skipped == 3


def test_a_pack_naming_several_devices_is_a_gateways() -> None:
    """#16 point 5: gateways publish one pack for the devices behind them. On the gateway's topic each record
    is its named device's (a record without a device part, the gateway's own); the ingest service decides
    whether the gateway may speak for them. Without a sender it is no one's."""
    pack = (
        b'[{"bn":"urn:dev:mac:0024befffe804ff1:","n":"temp","u":"Cel","v":21.5},'
        b'{"bn":"room-2:","n":"temp","u":"Cel","v":19.0},{"bn":"","n":"rssi","u":"dBW","v":-100}]'
    )
    readings = decode(pack, "suitcase/gw-1/senml")
    assert [(r["device_id"], r["quantity"], r["value"]) for r in readings] == [
        ("mac-0024befffe804ff1", "temperature", 21.5),
        ("room-2", "temperature", 19.0),
        ("gw-1", "rssi", -70.0),
    ]
    alone = reject(pack, None)
    assert alone.code == RejectCode.DEVICE_MISMATCH
    assert "on its gateway's topic" in alone.reason
    outcome = Decoder().decode_message(Message(pack, RECEIVED, "suitcase/gw-1/senml"), "senml")
    assert outcome.device_id == "gw-1"
    assert outcome.relayed == ("mac-0024befffe804ff1", "room-2")
    assert [(part.device_id, len(part.readings)) for part in outcome.by_device()] == [
        ("gw-1", 1),
        ("mac-0024befffe804ff1", 1),
        ("room-2", 1),
    ]
