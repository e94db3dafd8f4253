"""ChirpStack v4 uplinks: documented examples decode as expected, zero fields may be absent, every bad
envelope gets its own code, auto-detection finds the format, and random input only ever gets a reject."""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.codecs import MODELS
from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats import FORMATS, FormatContext, Message
from iot_suitcase.devices.formats.chirpstack import FORMAT
from iot_suitcase.devices.formats.lorawan.testing import BROKEN, COUNTER, acme_codec
from iot_suitcase.devices.settings import DecodeSettings

TESTDATA = Path(__file__).parent / "testdata"
VECTORS: dict[str, dict[str, Any]] = json.loads((TESTDATA / "expected.json").read_text())
RECEIVED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DOCS: dict[str, Any] = json.loads((TESTDATA / "chirpstack-docs-up.json").read_text())
DOCS_TOPIC = VECTORS["chirpstack-docs-up.json"]["topic"]
DOCS_EUI = "0101010101010101"


def decoder(tmp_path: Path, models: dict[str, str] | None = None) -> Decoder:
    if not models:
        return Decoder(DecodeSettings())
    path = tmp_path / "models.toml"
    path.write_text("[models]\n" + "".join(f'"{key}" = "{value}"\n' for key, value in models.items()))
    return Decoder(DecodeSettings(device_models_file=path))


def decode(
    event: dict[str, Any] | bytes, tmp_path: Path, models: dict[str, str] | None = None, topic: str | None = DOCS_TOPIC
) -> list[dict[str, Any]]:
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    message = Message(payload=payload, received_at=RECEIVED, topic=topic)
    return [r.model_dump(mode="json") for r in decoder(tmp_path, models).decode(message)]


def reject(
    event: dict[str, Any] | bytes, tmp_path: Path, models: dict[str, str] | None = None, topic: str | None = DOCS_TOPIC
) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(event, tmp_path, models, topic)
    return caught.value


def values(readings: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    return [(r["quantity"], r["value"], r["unit"]) for r in readings]


def docs(**changes: Any) -> dict[str, Any]:
    """The documented example with top-level fields changed; a value of None removes the field."""
    event: dict[str, Any] = copy.deepcopy(DOCS)
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


# --- the documented examples -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_documented_examples_decode_to_expected_readings(name: str, tmp_path: Path) -> None:
    vector = VECTORS[name]
    missing = [model for model in vector["device_models"].values() if model not in MODELS]
    if missing:
        pytest.skip(f"no codec registered yet for {missing}")
    payload = (TESTDATA / name).read_bytes()
    if "reject" in vector:
        error = reject(payload, tmp_path, vector["device_models"], vector["topic"])
        assert (error.code, error.device_id) == (vector["reject"], vector["device_id"])
        return
    readings = decode(payload, tmp_path, vector["device_models"], vector["topic"])
    assert {(r["device_id"], r["time"]) for r in readings} == {(vector["device_id"], vector["time"])}
    assert values(readings) == [(q, pytest.approx(v, rel=1e-9), u) for q, v, u in vector["readings"]]


def test_docs_example_bytes_go_through_the_codec_of_the_configured_model(tmp_path: Path) -> None:
    with acme_codec():
        by_eui = decode(DOCS, tmp_path, {DOCS_EUI: COUNTER})
        by_id = decode(DOCS, tmp_path, {f"eui-{DOCS_EUI}": COUNTER})
    # data "qg==" is the single byte 0xAA; the gateway heard it at -36 dBm, SNR 10.5 dB
    assert values(by_eui) == [("people_count", 170.0, "count"), ("rssi", -36.0, "dBm"), ("snr", 10.5, "dB")]
    assert by_id == by_eui
    # nanoseconds are cut to Python's microseconds, the offset is applied
    assert {r["time"] for r in by_eui} == {"2022-07-18T09:34:15.775023Z"}
    assert {r["device_id"] for r in by_eui} == {"eui-0101010101010101"}


def test_real_vendor_codec_decodes_the_raw_bytes_of_an_elsys_uplink(tmp_path: Path) -> None:
    if "elsys/ers-co2" not in MODELS:
        pytest.skip("the Elsys codec is not registered")
    payload = (TESTDATA / "thingsboard-elsys-ers-co2.json").read_bytes()
    topic = VECTORS["thingsboard-elsys-ers-co2.json"]["topic"]
    readings = decode(payload, tmp_path, {"eui-1000000000000001": "elsys/ers-co2"}, topic)
    # Elsys: 01 00E2 temperature 22.6 degC, 02 29 humidity 41 %, 04 0027 light 39 lux, 05 06 motion 6,
    # 06 0308 CO2 776 ppm, 07 0D62 VDD 3426 mV -> battery_voltage 3.426 V
    by_quantity = {r["quantity"]: r["value"] for r in readings}
    assert by_quantity == {
        "temperature": pytest.approx(22.6),
        "humidity": 41.0,
        "illuminance": 39.0,
        "motion": 6.0,
        "co2": 776.0,
        "battery_voltage": pytest.approx(3.426),
        "rssi": -35.0,
        "snr": 11.5,
    }


def test_real_vendor_codec_decodes_a_dragino_ldds75_uplink(tmp_path: Path) -> None:
    if "dragino/ldds75" not in MODELS:
        pytest.skip("the Dragino codec is not registered")
    # LDDS75 on fPort 2: battery 0x0B45 = 2885 mV, distance 0x0B05 = 2821 mm, interrupt 0,
    # DS18B20 0x0105 = 26.1 degC, sensor flag 1 (the layout of Dragino's LDDS75 manual)
    event = docs(fPort=2, data=base64.b64encode(bytes.fromhex("0b450b0500010501")).decode())
    readings = decode(event, tmp_path, {DOCS_EUI: "dragino/ldds75"})
    assert {r["quantity"]: (r["value"], r["unit"]) for r in readings} == {
        "battery_voltage": (pytest.approx(2.885), "V"),
        "distance": (2821.0, "mm"),
        "temperature": (pytest.approx(26.1), "degC"),
        "rssi": (-36.0, "dBm"),
        "snr": (10.5, "dB"),
    }


# --- where readings come from ------------------------------------------------------------------------------


def test_device_id_key_wins_over_dev_eui_key(tmp_path: Path) -> None:
    with acme_codec():
        error = reject(docs(), tmp_path, {f"eui-{DOCS_EUI}": BROKEN, DOCS_EUI: COUNTER})
    assert error.code is RejectCode.CODEC_ERROR
    assert "ZeroDivisionError" in error.reason
    assert error.device_id == "eui-0101010101010101"


def test_configured_model_wins_over_the_network_servers_object(tmp_path: Path) -> None:
    with acme_codec():
        readings = decode(docs(object={"temperature": 21.5}), tmp_path, {DOCS_EUI: COUNTER})
    assert [r["quantity"] for r in readings] == ["people_count", "rssi", "snr"]


def test_configured_model_without_codec_is_no_codec_naming_the_model(tmp_path: Path) -> None:
    error = reject(docs(object={"temperature": 21.5}), tmp_path, {DOCS_EUI: "nobody/nothing"})
    assert error.code is RejectCode.NO_CODEC
    assert "'nobody/nothing'" in error.reason


def test_codec_rejecting_the_bytes_is_a_codec_error(tmp_path: Path) -> None:
    with acme_codec():
        error = reject(docs(data="AAECAw=="), tmp_path, {DOCS_EUI: COUNTER})
    assert error.code is RejectCode.CODEC_ERROR
    assert "got 4" in error.reason


def test_object_fields_map_to_catalog_quantities_without_a_codec(tmp_path: Path) -> None:
    event = docs(object={"temperature": 21.5, "humidity": 40, "vdd": 3600, "status": "ok", "Distance": "1234 mm"})
    assert values(decode(event, tmp_path)) == [
        ("temperature", 21.5, "degC"),
        ("humidity", 40.0, "%"),
        ("distance", 1234.0, "mm"),
        ("battery_voltage", 3.6, "V"),
        ("rssi", -36.0, "dBm"),
        ("snr", 10.5, "dB"),
    ]


def test_object_without_known_fields_is_no_codec_naming_them(tmp_path: Path) -> None:
    error = reject(docs(object={"luminosity": 0.64, "status": "ok"}), tmp_path)
    assert error.code is RejectCode.NO_CODEC
    assert "luminosity, status" in error.reason


def test_best_gateway_gives_rssi_and_snr(tmp_path: Path) -> None:
    rx = [{"gatewayId": "a", "rssi": -110, "snr": -12.5}, {"gatewayId": "b", "rssi": -80, "snr": 3}, {"rssi": -80}]
    readings = decode(docs(object={"temperature": 20}, rxInfo=rx), tmp_path)
    assert values(readings)[1:] == [("rssi", -80.0, "dBm"), ("snr", 3.0, "dB")]
    no_gateways = decode(docs(object={"temperature": 20}, rxInfo=None), tmp_path)
    assert values(no_gateways) == [("temperature", 20.0, "degC")]


# --- protobuf JSON leaves zero values out ------------------------------------------------------------------


def test_absent_zero_fields_read_as_zero() -> None:
    event = docs(fCnt=None, fPort=None, dr=None, object={"temperature": 20}, rxInfo=[{"gatewayId": "a"}])
    decoded = FORMAT.decode(Message(json.dumps(event).encode(), RECEIVED, DOCS_TOPIC), FormatContext("suitcase"))
    assert (decoded.extras["f_port"], decoded.extras["f_cnt"]) == ("0", "0")
    assert [(r.quantity, r.value) for r in decoded.readings] == [("temperature", 20), ("rssi", 0.0), ("snr", 0.0)]


def test_absent_time_means_the_receive_time(tmp_path: Path) -> None:
    readings = decode(docs(time=None, object={"temperature": 20}), tmp_path)
    assert {r["time"] for r in readings} == {"2026-11-01T12:00:00Z"}


def test_uplink_without_data_or_object_has_no_readings(tmp_path: Path) -> None:
    error = reject(docs(data=None, fPort=None), tmp_path)
    assert error.code is RejectCode.NO_READINGS
    assert "fPort 0" in error.reason
    with acme_codec():
        assert reject(docs(data=None), tmp_path, {DOCS_EUI: COUNTER}).code is RejectCode.NO_READINGS


def test_protobuf_json_integers_may_be_strings_and_base64_url_safe(tmp_path: Path) -> None:
    with acme_codec():
        readings = decode(docs(fPort="1", fCnt="4294967295", data="_w"), tmp_path, {DOCS_EUI: COUNTER})
    assert values(readings)[0] == ("people_count", 255.0, "count")


# --- device ids and topics ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "device_id"),
    [
        ("lht65-garden", "lht65-garden"),
        ("7C-F9-57-20-FC-01-5F-EF", "7C-F9-57-20-FC-01-5F-EF"),
        ("Test device", "eui-0101010101010101"),
        ("a/b", "eui-0101010101010101"),
        ("", "eui-0101010101010101"),
        (None, "eui-0101010101010101"),
    ],
)
def test_device_id_is_the_valid_device_name_else_the_dev_eui(name: str | None, device_id: str, tmp_path: Path) -> None:
    event = docs(object={"temperature": 20})
    event["deviceInfo"]["deviceName"] = name
    assert {r["device_id"] for r in decode(event, tmp_path)} == {device_id}


def test_dev_eui_is_matched_case_insensitively_with_the_topic(tmp_path: Path) -> None:
    event = docs(object={"temperature": 20})
    event["deviceInfo"]["devEui"] = "A84041000181C0D8"
    topic = "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/a84041000181c0d8/event/up"
    assert {r["device_id"] for r in decode(event, tmp_path, topic=topic)} == {"eui-a84041000181c0d8"}


@pytest.mark.parametrize(
    ("topic", "code", "reason_part"),
    [
        (
            "application/17c82e96-be03-4f38-aef3-f83d48582d97/device/0202020202020202/event/up",
            "device_mismatch",
            "0202",
        ),
        (f"application/other-app/device/{DOCS_EUI}/event/up", "device_mismatch", "'other-app'"),
        ("application/17c82e96/device/not-an-eui/event/up", "invalid_device_id", "not a DevEUI"),
        (f"application/17c82e96/device/{DOCS_EUI}/event/join", "unknown_topic", "no payload format"),
    ],
)
def test_topic_must_agree_with_the_payload(topic: str, code: str, reason_part: str, tmp_path: Path) -> None:
    error = reject(docs(object={"temperature": 20}), tmp_path, topic=topic)
    assert error.code == code
    assert reason_part in error.reason


# --- malformed envelopes -----------------------------------------------------------------------------------


def _set_info(key: str, value: object) -> dict[str, Any]:
    event = docs()
    event["deviceInfo"][key] = value
    return event


def _set_rx(key: str, value: object) -> dict[str, Any]:
    event = docs(object={"temperature": 20})
    event["rxInfo"][0][key] = value
    return event


def _huge(event: dict[str, Any]) -> bytes:
    """The event with the string "HUGE" replaced by 1e999, a JSON number beyond float range."""
    return json.dumps(event).replace('"HUGE"', "1e999").encode()


# A ChirpStack v3 `up` event as its JSON integration sent it (the field names of ChirpStack v3's documentation,
# Integrations > Event types; values made up here): no deviceInfo, devEUI and applicationID at the top.
V3_UPLINK: dict[str, Any] = {
    "applicationID": "123",
    "applicationName": "temperature-sensor",
    "deviceName": "garden-sensor",
    "devEUI": "0202020202020202",
    "rxInfo": [{"gatewayID": "0303030303030303", "rssi": -48, "loRaSNR": 9}],
    "txInfo": {"frequency": 868100000, "dr": 5},
    "adr": True,
    "fCnt": 10,
    "fPort": 5,
    "data": "AQID",
    "objectJSON": '{"temperatureSensor":25,"humiditySensor":32}',
}


MALFORMED: list[tuple[str, dict[str, Any] | bytes, RejectCode, str]] = [
    ("truncated", json.dumps(DOCS).encode()[:50], RejectCode.MALFORMED_JSON, "not valid JSON"),
    ("not utf-8", b'{"deviceInfo": "\xff"}', RejectCode.NOT_UTF8, "offset 16"),
    ("array", b"[1, 2]", RejectCode.WRONG_TYPE, "payload: expected a JSON object"),
    ("nan", b'{"deviceInfo": NaN}', RejectCode.NOT_FINITE, "NaN"),
    ("deep", b"[" * 20_000 + b"]" * 20_000, RejectCode.MALFORMED_JSON, "nested too deeply"),
    ("no device info", {"deduplicationId": "x"}, RejectCode.MISSING_FIELD, "deviceInfo: missing"),
    ("v3 event", {"applicationID": "123", "devEUI": "AgICAgICAgI="}, RejectCode.UNSUPPORTED_VERSION, "v3"),
    ("v3 uplink", V3_UPLINK, RejectCode.UNSUPPORTED_VERSION, "only v4 events are read"),
    ("device info string", docs(deviceInfo="x"), RejectCode.WRONG_TYPE, "deviceInfo: expected an object"),
    ("no dev eui", _set_info("devEui", None), RejectCode.MISSING_FIELD, "deviceInfo.devEui: missing"),
    ("bad dev eui", _set_info("devEui", "01010101"), RejectCode.INVALID_DEVICE_ID, "16 hex digits"),
    ("dev eui number", _set_info("devEui", 5), RejectCode.WRONG_TYPE, "deviceInfo.devEui: expected a string"),
    ("fport word", docs(fPort="one"), RejectCode.WRONG_TYPE, "fPort: expected an integer"),
    ("fport fraction", docs(fPort=1.5), RejectCode.WRONG_TYPE, "fPort: expected an integer"),
    ("fport bool", docs(fPort=True), RejectCode.WRONG_TYPE, "got a boolean"),
    ("fport range", docs(fPort=300), RejectCode.OUT_OF_RANGE, "fPort: 300 is outside 0..255"),
    ("fcnt negative", docs(fCnt=-1), RejectCode.OUT_OF_RANGE, "fCnt"),
    ("data not base64", docs(data="qg=!"), RejectCode.WRONG_TYPE, "data: 'qg=!' is not base64"),
    ("data length", docs(data="q"), RejectCode.WRONG_TYPE, "is not base64"),
    ("object array", docs(object=[1]), RejectCode.WRONG_TYPE, "object: expected an object"),
    ("rxinfo object", docs(rxInfo={"rssi": -3}), RejectCode.WRONG_TYPE, "rxInfo: expected an array"),
    ("rxinfo item", docs(rxInfo=[5]), RejectCode.WRONG_TYPE, "rxInfo[0]: expected an object"),
    ("rssi word", _set_rx("rssi", "loud"), RejectCode.WRONG_TYPE, "rxInfo[0].rssi: expected an integer"),
    ("snr word", _set_rx("snr", "good"), RejectCode.WRONG_TYPE, "rxInfo[0].snr: expected a number"),
    ("snr huge", _huge(_set_rx("snr", "HUGE")), RejectCode.NOT_FINITE, "rxInfo[0].snr"),
    ("rssi implausible", _set_rx("rssi", 500), RejectCode.OUT_OF_RANGE, "rssi: 500 dBm"),
    ("time word", docs(time="yesterday"), RejectCode.BAD_TIME, "RFC 3339"),
    ("time number", docs(time=1658136855), RejectCode.WRONG_TYPE, "time: expected a string"),
    ("time local", docs(time="2022-07-18T09:34:15"), RejectCode.BAD_TIME, "no UTC offset"),
    ("time future", docs(time="2999-01-01T00:00:00Z", object={"co2": 400}), RejectCode.TIME_IN_FUTURE, "ahead"),
    ("object too hot", docs(object={"temperature": 500}), RejectCode.OUT_OF_RANGE, "temperature: 500"),
    ("object unit", docs(object={"temperature": "21 kelvins"}), RejectCode.UNKNOWN_UNIT, "'kelvins'"),
    ("object huge", _huge(docs(object={"co2": "HUGE"})), RejectCode.NOT_FINITE, "object.co2"),
]


@pytest.mark.parametrize(("event", "code", "reason_part"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_each_malformed_envelope_gets_its_own_code(
    event: dict[str, Any] | bytes, code: RejectCode, reason_part: str, tmp_path: Path
) -> None:
    error = reject(event, tmp_path)
    assert error.code is code
    assert reason_part in error.reason


def test_reject_names_the_device_once_known(tmp_path: Path) -> None:
    assert reject(docs(fPort=300), tmp_path).device_id == "eui-0101010101010101"
    assert reject(docs(object={"temperature": 500}), tmp_path).device_id == "eui-0101010101010101"
    assert reject(b"[]", tmp_path).device_id is None


# --- format choice -----------------------------------------------------------------------------------------


def test_auto_picks_chirpstack_by_topic_and_by_sniffing(tmp_path: Path) -> None:
    chooser = decoder(tmp_path)
    payload = json.dumps(docs(object={"temperature": 20})).encode()
    assert chooser.choose_format(Message(payload, RECEIVED, DOCS_TOPIC)).name == "chirpstack"
    assert chooser.choose_format(Message(payload, RECEIVED, None)).name == "chirpstack"
    tts = (Path(__file__).parents[1] / "tts" / "testdata" / "tts-docs-mqtt-up.json").read_bytes()
    assert chooser.choose_format(Message(tts, RECEIVED, None)).name == "tts"
    assert chooser.choose_format(Message(b'{"readings": {"rain": 1}}', RECEIVED, None)).name == "native"
    assert "application/+/device/+/event/up" in chooser.topic_filters()
    assert decode(payload, tmp_path, topic=None)[0]["device_id"] == "eui-0101010101010101"


def test_format_is_registered_after_native() -> None:
    assert list(FORMATS)[:2] == ["native", "chirpstack"]
    assert FORMATS["chirpstack"] is FORMAT


def test_cli_decodes_a_documented_example(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[models]\n"1000000000000001" = "elsys/ers-co2"\n')
    vector = VECTORS["thingsboard-elsys-ers-co2.json"]
    result = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "decode", "--topic", vector["topic"]],
        input=(TESTDATA / "thingsboard-elsys-ers-co2.json").read_bytes(),
        capture_output=True,
        check=False,
        timeout=60,
        env={**os.environ, "SUITCASE_DEVICE_MODELS_FILE": str(models)},
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    if "elsys/ers-co2" not in MODELS:
        assert lines == [{"error": "no_codec", "reason": lines[0]["reason"]}]
        return
    assert result.returncode == 0, result.stdout + result.stderr
    assert [(r["quantity"], r["value"]) for r in lines][-2:] == [("rssi", -35.0), ("snr", 11.5)]
    assert {r["device_id"] for r in lines} == {"eui-1000000000000001"}


# --- random input ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
device_infos = st.fixed_dictionaries(
    {},
    optional={
        "devEui": st.sampled_from([DOCS_EUI, "0202020202020202", "zz", ""]) | json_values,
        "deviceName": st.sampled_from(["garden", "Test device", ""]) | json_values,
        "applicationId": json_values,
    },
)
events = st.fixed_dictionaries(
    {"deviceInfo": device_infos | json_values},
    optional={
        "time": st.sampled_from(["2022-07-18T09:34:15.775023242+00:00", "2022-07-18", "x"]) | json_values,
        "fPort": st.integers(-5, 300) | json_values,
        "fCnt": json_values,
        "data": st.sampled_from(["qg==", "AQI=", "_w", "!"]) | json_values,
        "object": st.dictionaries(st.sampled_from(["temperature", "BatV", "vdd", "x"]), json_values, max_size=3)
        | json_values,
        "rxInfo": st.lists(
            st.fixed_dictionaries({}, optional={"rssi": json_values, "snr": json_values}) | json_values, max_size=3
        )
        | json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(
    payload=st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | events.map(lambda v: json.dumps(v).encode()),
    topic=st.sampled_from([DOCS_TOPIC, None]),
    configured=st.booleans(),
)
def test_arbitrary_input_raises_only_decode_error(payload: bytes, topic: str | None, configured: bool) -> None:
    context = FormatContext("suitcase", {DOCS_EUI: COUNTER} if configured else {})
    with acme_codec():
        chooser = Decoder(DecodeSettings())
        chooser.context = context
        try:
            readings = chooser.decode(Message(payload, RECEIVED, topic), "chirpstack")
        except DecodeError as error:
            rejected: DecodeError | None = error
        else:
            rejected = None
    if rejected is not None:
        assert rejected.reason
        assert rejected.code in RejectCode
        return
    assert readings
    assert all(math.isfinite(reading.value) for reading in readings)
