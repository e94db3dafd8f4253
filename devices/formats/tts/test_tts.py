"""The Things Stack v3 uplinks: documented examples decode as expected, zero fields may be absent, every bad
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
from iot_suitcase.devices.formats.lorawan.testing import BROKEN, COUNTER, acme_codec
from iot_suitcase.devices.formats.tts import FORMAT, pubsub_topic
from iot_suitcase.devices.settings import DecodeSettings

TESTDATA = Path(__file__).parent / "testdata"
VECTORS: dict[str, dict[str, Any]] = json.loads((TESTDATA / "expected.json").read_text())
RECEIVED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DOCS: dict[str, Any] = json.loads((TESTDATA / "tts-docs-data-formats-up.json").read_text())
TOPIC = "v3/app1@tenant1/devices/dev1/up"
DOCS_EUI = "0004a30b001c0530"


def decoder(tmp_path: Path, models: dict[str, str] | None = None) -> Decoder:
    if not models:
        return Decoder(DecodeSettings())
    path = tmp_path / "models.toml"
    path.write_text("[models]\n" + "".join(f'"{key}" = "{value}"\n' for key, value in models.items()))
    return Decoder(DecodeSettings(device_models_file=path))


def decode(
    up: dict[str, Any] | bytes, tmp_path: Path, models: dict[str, str] | None = None, topic: str | None = TOPIC
) -> list[dict[str, Any]]:
    payload = up if isinstance(up, bytes) else json.dumps(up).encode()
    message = Message(payload=payload, received_at=RECEIVED, topic=topic)
    return [r.model_dump(mode="json") for r in decoder(tmp_path, models).decode(message)]


def reject(
    up: dict[str, Any] | bytes, tmp_path: Path, models: dict[str, str] | None = None, topic: str | None = TOPIC
) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(up, tmp_path, models, topic)
    return caught.value


def values(readings: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    return [(r["quantity"], r["value"], r["unit"]) for r in readings]


def docs(**changes: Any) -> dict[str, Any]:
    """The Data Formats example with uplink_message fields changed; a value of None removes the field."""
    up: dict[str, Any] = copy.deepcopy(DOCS)
    for key, value in changes.items():
        if value is None:
            up["uplink_message"].pop(key, None)
        else:
            up["uplink_message"][key] = value
    return up


# --- the documented examples -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_documented_examples_decode_to_expected_readings(name: str, tmp_path: Path) -> None:
    vector = VECTORS[name]
    needed = list(vector["device_models"].values())
    version_ids = json.loads((TESTDATA / name).read_text())["uplink_message"].get("version_ids")
    if version_ids:
        needed.append(f"{version_ids['brand_id']}/{version_ids['model_id']}")
    missing = [model for model in needed if model not in MODELS]
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


def test_mqtt_docs_example_bytes_go_through_the_codec_of_the_configured_model(tmp_path: Path) -> None:
    up = json.loads((TESTDATA / "tts-docs-mqtt-up.json").read_text())
    up["uplink_message"]["frm_payload"] = "AQI="  # the documented text payload is no counter; 0x0102 is
    topic = "v3/app1/devices/dev1/up"
    with acme_codec():
        by_eui = decode(up, tmp_path, {"4200000000000000": COUNTER}, topic)
        by_id = decode(up, tmp_path, {"dev1": COUNTER}, topic)
    assert values(by_eui) == [("people_count", 258.0, "count"), ("rssi", -35.0, "dBm"), ("snr", 5.0, "dB")]
    assert by_id == by_eui
    # this example has no received_at at all: the reading time is the time the message arrived
    assert {r["time"] for r in by_eui} == {"2026-11-01T12:00:00Z"}


def test_real_vendor_codec_is_chosen_by_version_ids(tmp_path: Path) -> None:
    if "elsys/ers-co2" not in MODELS:
        pytest.skip("the Elsys codec is not registered")
    vector = VECTORS["constructed-elsys-version-ids.json"]
    readings = decode((TESTDATA / "constructed-elsys-version-ids.json").read_bytes(), tmp_path, topic=vector["topic"])
    # Elsys: 01 00E2 temperature 22.6 degC, 02 29 humidity 41 %, 04 0027 light 39 lux, 05 06 motion 6,
    # 06 0308 CO2 776 ppm, 07 0D62 VDD 3426 mV; the stronger of the two gateways heard -18.5 dBm, 9.75 dB
    by_quantity = {r["quantity"]: r["value"] for r in readings}
    assert by_quantity == {
        "temperature": pytest.approx(22.6),
        "humidity": 41.0,
        "illuminance": 39.0,
        "motion": 6.0,
        "co2": 776.0,
        "battery_voltage": pytest.approx(3.426),
        "rssi": -18.5,
        "snr": 9.75,
    }


def test_real_vendor_codec_decodes_a_dragino_ldds75_uplink_named_by_version_ids(tmp_path: Path) -> None:
    if "dragino/ldds75" not in MODELS:
        pytest.skip("the Dragino codec is not registered")
    # LDDS75 on fPort 2: battery 0x0B45 = 2885 mV, distance 0x0B05 = 2821 mm, interrupt 0,
    # DS18B20 0x0105 = 26.1 degC, sensor flag 1 (the layout of Dragino's LDDS75 manual). The decoded
    # payload The Things Stack adds is ignored: the project's codec reads the bytes.
    up = docs(
        f_port=2,
        frm_payload=base64.b64encode(bytes.fromhex("0b450b0500010501")).decode(),
        decoded_payload={"Bat": 2.885, "Distance": "2821 mm", "TempC_DS18B20": "26.10"},
        version_ids={"brand_id": "dragino", "model_id": "ldds75", "firmware_version": "1.1.4"},
    )
    readings = decode(up, tmp_path)
    assert {r["quantity"]: (r["value"], r["unit"]) for r in readings} == {
        "battery_voltage": (pytest.approx(2.885), "V"),
        "distance": (2821.0, "mm"),
        "temperature": (pytest.approx(26.1), "degC"),
        "rssi": (-35.0, "dBm"),
        "snr": (5.0, "dB"),
    }


# --- where readings come from ------------------------------------------------------------------------------


def test_configured_model_wins_over_version_ids_and_decoded_payload(tmp_path: Path) -> None:
    up = docs(frm_payload="Kg==", version_ids={"brand_id": "acme", "model_id": "broken"})
    with acme_codec():
        assert values(decode(up, tmp_path, {"dev1": COUNTER}))[0] == ("people_count", 42.0, "count")
        error = reject(up, tmp_path)
    assert error.code is RejectCode.CODEC_ERROR
    assert "acme/broken" in error.reason
    assert "ZeroDivisionError" in error.reason


def test_version_ids_without_codec_fall_back_to_the_decoded_payload(tmp_path: Path) -> None:
    up = docs(version_ids={"brand_id": "nobody", "model_id": "nothing", "band_id": "EU_863_870"})
    assert values(decode(up, tmp_path))[0] == ("temperature", 1.0, "degC")
    error = reject(docs(version_ids={"brand_id": "nobody", "model_id": "nothing"}, decoded_payload=None), tmp_path)
    assert error.code is RejectCode.NO_CODEC
    assert "names the model nobody/nothing" in error.reason


def test_configured_model_without_codec_is_no_codec_naming_the_model(tmp_path: Path) -> None:
    error = reject(docs(), tmp_path, {DOCS_EUI: "nobody/nothing"})
    assert error.code is RejectCode.NO_CODEC
    assert "'nobody/nothing'" in error.reason


def test_decoded_payload_without_known_fields_is_no_codec_naming_them(tmp_path: Path) -> None:
    error = reject(docs(decoded_payload={"luminosity": 0.64}), tmp_path)
    assert error.code is RejectCode.NO_CODEC
    assert "uplink_message.decoded_payload (luminosity)" in error.reason


def test_decoded_payload_values_with_units(tmp_path: Path) -> None:
    decoded = {"Bat": "3.384 V", "TempC_SHT": "21.50 °C", "air_humidity": {"value": 40.5, "unit": "%"}}
    assert values(decode(docs(decoded_payload=decoded), tmp_path))[:3] == [
        ("temperature", 21.5, "degC"),
        ("humidity", 40.5, "%"),
        ("battery_voltage", 3.384, "V"),
    ]


def normalized_outcome(up: dict[str, Any], tmp_path: Path, models: dict[str, str] | None = None) -> Any:
    return decoder(tmp_path, models).decode_message(Message(json.dumps(up).encode(), RECEIVED, TOPIC), "tts")


def test_the_normalized_payload_is_preferred_to_the_decoded_payload(tmp_path: Path) -> None:
    """#16 point 3: a device with a normalizer lands in the schema's units, whatever its decoder calls things."""
    normalized = [
        {
            "air": {"location": "indoor", "temperature": 21.25, "relativeHumidity": 40, "pressure": 1013.5},
            "action": {"motion": {"detected": True, "count": 2}, "contactState": "OPEN"},
            "water": {"leak": False},
            "soil": {"moisture": 30},
            "battery": 3.1,
        }
    ]
    outcome = normalized_outcome(docs(normalized_payload=normalized), tmp_path)
    assert [(r.quantity, r.value, r.unit) for r in outcome.readings] == [
        ("temperature", 21.25, "degC"),
        ("humidity", 40.0, "%"),
        ("pressure", 1013.5, "hPa"),
        ("motion", 2.0, "count"),
        ("door_open", 1.0, "count"),
        ("water_leak", 0.0, "count"),
        ("battery_voltage", 3.1, "V"),
        ("rssi", -35.0, "dBm"),
        ("snr", 5.0, "dB"),
    ]
    assert outcome.skipped == 2  # action.motion.detected and soil.moisture: no quantity here (air.location is a word)


def test_each_normalized_measurement_keeps_its_own_time(tmp_path: Path) -> None:
    normalized = [
        {"air": {"temperature": 20.0}, "time": "2020-02-12T15:00:00Z"},
        {"air": {"temperature": 20.5}, "time": "2020-02-12T15:10:00Z"},
        {"air": {"temperature": 21.0}},
    ]
    readings = decode(docs(normalized_payload=normalized, rx_metadata=None), tmp_path)
    assert [(r["time"], r["value"]) for r in readings] == [
        ("2020-02-12T15:00:00Z", 20.0),
        ("2020-02-12T15:10:00Z", 20.5),
        ("2020-02-12T15:15:45.789585Z", 21.0),  # none of its own: the uplink's
    ]


def test_this_projects_codec_is_preferred_to_the_normalized_payload(tmp_path: Path) -> None:
    up = docs(frm_payload="Kg==", normalized_payload=[{"air": {"temperature": 5.0}}])
    with acme_codec():
        assert values(decode(up, tmp_path, {"dev1": COUNTER}))[0] == ("people_count", 42.0, "count")


def test_a_normalized_payload_without_a_known_path_falls_back_to_the_decoded_payload(tmp_path: Path) -> None:
    up = docs(normalized_payload=[{"soil": {"moisture": 30}}])
    assert values(decode(up, tmp_path))[0] == ("temperature", 1.0, "degC")


@pytest.mark.parametrize(
    ("normalized", "code"),
    [
        ([{"action": {"contactState": "AJAR"}}], RejectCode.WRONG_TYPE),
        ([{"action": {"contactState": 1}}], RejectCode.WRONG_TYPE),
        ([{"air": {"temperature": 20.0}, "time": "yesterday"}], RejectCode.BAD_TIME),
        ([{"air": {"temperature": 900.0}}], RejectCode.OUT_OF_RANGE),
        ("air", RejectCode.WRONG_TYPE),
        (["air"], RejectCode.WRONG_TYPE),
    ],
)
def test_a_malformed_normalized_payload_is_a_reject_naming_it(
    normalized: object, code: RejectCode, tmp_path: Path
) -> None:
    error = reject(docs(normalized_payload=normalized), tmp_path)
    assert error.code is code
    assert "normalized_payload" in error.reason or code is RejectCode.OUT_OF_RANGE


def test_best_gateway_by_rssi_with_channel_rssi_as_fallback(tmp_path: Path) -> None:
    rx = [{"rssi": -90, "snr": 1}, {"channel_rssi": -60, "snr": 8.5}, {"rssi": -60, "snr": 2}]
    assert values(decode(docs(rx_metadata=rx), tmp_path))[-2:] == [("rssi", -60.0, "dBm"), ("snr", 8.5, "dB")]
    assert [r["quantity"] for r in decode(docs(rx_metadata=None), tmp_path)] == ["temperature"]


# --- zero fields left out, and the reading time ------------------------------------------------------------


def test_absent_zero_fields_read_as_zero() -> None:
    up = docs(f_cnt=None, f_port=None, rx_metadata=[{"gateway_ids": {"gateway_id": "gtw1"}}])
    decoded = FORMAT.decode(Message(json.dumps(up).encode(), RECEIVED, TOPIC), FormatContext("suitcase"))
    assert (decoded.extras["f_port"], decoded.extras["f_cnt"]) == ("0", "0")
    assert [(r.quantity, r.value) for r in decoded.readings][-2:] == [("rssi", 0.0), ("snr", 0.0)]


def test_reading_time_is_the_network_servers_then_the_application_servers_receive_time(tmp_path: Path) -> None:
    assert decode(docs(), tmp_path)[0]["time"] == "2020-02-12T15:15:45.789585Z"
    assert decode(docs(received_at=None), tmp_path)[0]["time"] == "2020-02-12T15:15:46.014773Z"
    up = docs(received_at=None)
    del up["received_at"]
    assert decode(up, tmp_path)[0]["time"] == "2026-11-01T12:00:00Z"


def test_uplink_without_payload_or_decoded_payload_has_no_readings(tmp_path: Path) -> None:
    error = reject(docs(frm_payload=None, decoded_payload=None), tmp_path)
    assert error.code is RejectCode.NO_READINGS
    assert "no application data" in error.reason


# --- device ids and topics ---------------------------------------------------------------------------------


def test_single_tenant_and_multi_tenant_topics(tmp_path: Path) -> None:
    for topic in ("v3/app1/devices/dev1/up", "v3/app1@ttn/devices/dev1/up", "tts/city/up", None):
        assert {r["device_id"] for r in decode(docs(), tmp_path, topic=topic)} == {"dev1"}


def test_a_pubsub_topic_carries_every_device_of_its_application(tmp_path: Path) -> None:
    """A Pub/Sub integration publishes all its application's uplinks on one topic: the message names the
    device, and the integration's name is no application id to check against."""
    other = docs()
    other["end_device_ids"]["device_id"] = "dev2"
    other["end_device_ids"]["application_ids"]["application_id"] = "another-app"
    assert {r["device_id"] for r in decode(other, tmp_path, topic=pubsub_topic("city"))} == {"dev2"}
    assert pubsub_topic("city") == "tts/city/up"
    for topic in ("tts/city/down", "tts/up", "tts/city/x/up", "tts//up"):
        assert reject(docs(), tmp_path, topic=topic).code == "unknown_topic", topic


@pytest.mark.parametrize(
    ("topic", "code", "reason_part"),
    [
        ("v3/app1@tenant1/devices/dev2/up", "device_mismatch", "'dev2'"),
        ("v3/app2@tenant1/devices/dev1/up", "device_mismatch", "'app2'"),
        ("v3/app1@tenant1/devices/dev 1/up", "invalid_device_id", "'dev 1'"),
        ("v3/app1@tenant1/devices/dev1/join", "unknown_topic", "no payload format"),
        ("v3/app1@tenant1/devices/dev1/down/ack", "unknown_topic", "no payload format"),
    ],
)
def test_topic_must_agree_with_the_payload(topic: str, code: str, reason_part: str, tmp_path: Path) -> None:
    error = reject(docs(), tmp_path, topic=topic)
    assert error.code == code
    assert reason_part in error.reason


# --- malformed envelopes -----------------------------------------------------------------------------------


def _ids(**changes: Any) -> dict[str, Any]:
    up = docs()
    up["end_device_ids"].update(changes)
    return up


def _huge(up: dict[str, Any]) -> bytes:
    """The message with the string "HUGE" replaced by 1e999, a JSON number beyond float range."""
    return json.dumps(up).replace('"HUGE"', "1e999").encode()


JOIN = {"end_device_ids": DOCS["end_device_ids"], "join_accept": {"session_key_id": "AXBSH1Pk6Z0G166RlH16CQ=="}}
MALFORMED: list[tuple[str, dict[str, Any] | bytes, RejectCode, str]] = [
    ("truncated", json.dumps(DOCS).encode()[:80], RejectCode.MALFORMED_JSON, "not valid JSON"),
    ("not utf-8", b'{"end_device_ids": "\xc3\x28"}', RejectCode.NOT_UTF8, "offset"),
    ("string", b'"up"', RejectCode.WRONG_TYPE, "payload: expected a JSON object"),
    ("infinity", b'{"end_device_ids": Infinity}', RejectCode.NOT_FINITE, "Infinity"),
    ("no ids", {"uplink_message": DOCS["uplink_message"]}, RejectCode.MISSING_FIELD, "end_device_ids: missing"),
    ("ids array", {"end_device_ids": []}, RejectCode.WRONG_TYPE, "end_device_ids: expected an object"),
    ("no device id", _ids(device_id=None), RejectCode.MISSING_FIELD, "end_device_ids.device_id: missing"),
    ("bad device id", _ids(device_id="dev/1"), RejectCode.INVALID_DEVICE_ID, "'dev/1'"),
    ("bad dev eui", _ids(dev_eui="0004A30B"), RejectCode.INVALID_DEVICE_ID, "end_device_ids.dev_eui"),
    ("app ids string", _ids(application_ids="app1"), RejectCode.WRONG_TYPE, "application_ids: expected an object"),
    ("join message", JOIN, RejectCode.MISSING_FIELD, "uplink_message: missing; only uplink messages"),
    ("uplink string", {**DOCS, "uplink_message": "x"}, RejectCode.WRONG_TYPE, "uplink_message: expected an object"),
    ("fport word", docs(f_port="x"), RejectCode.WRONG_TYPE, "uplink_message.f_port: expected an integer"),
    ("fport range", docs(f_port=256), RejectCode.OUT_OF_RANGE, "uplink_message.f_port: 256 is outside 0..255"),
    ("fcnt range", docs(f_cnt=2**32), RejectCode.OUT_OF_RANGE, "uplink_message.f_cnt"),
    ("payload base64", docs(frm_payload="gkH*"), RejectCode.WRONG_TYPE, "uplink_message.frm_payload"),
    ("decoded list", docs(decoded_payload=[1.0]), RejectCode.WRONG_TYPE, "decoded_payload: expected an object"),
    ("rx not list", docs(rx_metadata={}), RejectCode.WRONG_TYPE, "rx_metadata: expected an array"),
    ("rx item", docs(rx_metadata=["gtw1"]), RejectCode.WRONG_TYPE, "rx_metadata[0]: expected an object"),
    ("rssi word", docs(rx_metadata=[{"rssi": "-35"}]), RejectCode.WRONG_TYPE, "rx_metadata[0].rssi: expected a number"),
    ("snr huge", _huge(docs(rx_metadata=[{"snr": "HUGE"}])), RejectCode.NOT_FINITE, "rx_metadata[0].snr"),
    ("snr implausible", docs(rx_metadata=[{"rssi": -35, "snr": 99}]), RejectCode.OUT_OF_RANGE, "snr: 99 dB"),
    ("time word", docs(received_at="soon"), RejectCode.BAD_TIME, "RFC 3339"),
    ("time number", docs(received_at=1581520545), RejectCode.WRONG_TYPE, "received_at: expected a string"),
    ("time 1970", docs(received_at="1970-01-01T00:00:00Z"), RejectCode.BAD_TIME, "before 2000"),
    ("time future", docs(received_at="2999-01-01T00:00:00Z"), RejectCode.TIME_IN_FUTURE, "ahead"),
    ("version ids", docs(version_ids="elsys/ers"), RejectCode.WRONG_TYPE, "version_ids: expected an object"),
    ("decoded cold", docs(decoded_payload={"temperature": -100}), RejectCode.OUT_OF_RANGE, "temperature: -100"),
    ("decoded unit", docs(decoded_payload={"Bat": "3.3 volts"}), RejectCode.UNKNOWN_UNIT, "'volts'"),
]


@pytest.mark.parametrize(("up", "code", "reason_part"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_each_malformed_envelope_gets_its_own_code(
    up: dict[str, Any] | bytes, code: RejectCode, reason_part: str, tmp_path: Path
) -> None:
    error = reject(up, tmp_path)
    assert error.code is code
    assert reason_part in error.reason


def test_reject_names_the_device_once_known(tmp_path: Path) -> None:
    assert reject(docs(f_port=256), tmp_path).device_id == "dev1"
    assert reject(JOIN, tmp_path).device_id == "dev1"
    assert reject(b"{}", tmp_path).device_id is None


# --- format choice -----------------------------------------------------------------------------------------


def test_auto_picks_tts_by_topic_and_by_sniffing(tmp_path: Path) -> None:
    chooser = decoder(tmp_path)
    payload = json.dumps(docs()).encode()
    assert chooser.choose_format(Message(payload, RECEIVED, TOPIC)).name == "tts"
    assert chooser.choose_format(Message(payload, RECEIVED, "v3/app1/devices/dev1/up")).name == "tts"
    assert chooser.choose_format(Message(payload, RECEIVED, None)).name == "tts"
    join = json.dumps(JOIN).encode()
    with pytest.raises(DecodeError) as caught:
        chooser.choose_format(Message(join, RECEIVED, None))
    assert caught.value.code is RejectCode.UNKNOWN_FORMAT
    assert "v3/+/devices/+/up" in chooser.topic_filters()
    assert "tts/+/up" in chooser.topic_filters()
    assert chooser.choose_format(Message(payload, RECEIVED, "tts/city/up")).name == "tts"
    assert decode(payload, tmp_path, topic=None)[0]["device_id"] == "dev1"


def test_format_is_registered_after_native() -> None:
    assert list(FORMATS).index("tts") > list(FORMATS).index("native")
    assert FORMATS["tts"] is FORMAT


def test_cli_decodes_a_documented_example() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "decode", "--topic", TOPIC],
        input=(TESTDATA / "tts-docs-data-formats-up.json").read_bytes(),
        capture_output=True,
        check=False,
        timeout=60,
        env={key: value for key, value in os.environ.items() if key != "SUITCASE_DEVICE_MODELS_FILE"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["device_id"], r["time"], r["quantity"], r["value"]) for r in lines] == [
        ("dev1", "2020-02-12T15:15:45.789585Z", "temperature", 1.0),
        ("dev1", "2020-02-12T15:15:45.789585Z", "rssi", -35.0),
        ("dev1", "2020-02-12T15:15:45.789585Z", "snr", 5.0),
    ]


# --- random input ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
end_device_ids = st.fixed_dictionaries(
    {},
    optional={
        "device_id": st.sampled_from(["dev1", "dev2", "a b", ""]) | json_values,
        "dev_eui": st.sampled_from(["0004A30B001C0530", "00", ""]) | json_values,
        "application_ids": st.fixed_dictionaries({}, optional={"application_id": json_values}) | json_values,
    },
)
uplink_messages = st.fixed_dictionaries(
    {},
    optional={
        "f_port": st.integers(-5, 300) | json_values,
        "f_cnt": json_values,
        "frm_payload": st.sampled_from(["gkHe", "AQI=", "Kg", "*"]) | json_values,
        "decoded_payload": st.dictionaries(st.sampled_from(["temperature", "Bat", "vdd", "x"]), json_values)
        | json_values,
        "rx_metadata": st.lists(
            st.fixed_dictionaries({}, optional={"rssi": json_values, "channel_rssi": json_values, "snr": json_values})
            | json_values,
            max_size=3,
        )
        | json_values,
        "received_at": st.sampled_from(["2020-02-12T15:15:45.789585559Z", "x"]) | json_values,
        "normalized_payload": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "air": st.dictionaries(st.sampled_from(["temperature", "co2", "location"]), json_values),
                    "action": st.fixed_dictionaries({}, optional={"contactState": json_values}),
                    "battery": json_values,
                    "time": st.sampled_from(["2020-02-12T15:15:00Z", "x"]) | json_values,
                },
            )
            | json_values,
            max_size=3,
        )
        | json_values,
        "version_ids": st.fixed_dictionaries(
            {}, optional={"brand_id": st.just("acme") | json_values, "model_id": st.just("counter") | json_values}
        )
        | json_values,
    },
)
messages = st.fixed_dictionaries(
    {"end_device_ids": end_device_ids | json_values},
    optional={"uplink_message": uplink_messages | json_values, "received_at": json_values},
)


@settings(max_examples=400, deadline=None)
@given(
    payload=st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | messages.map(lambda v: json.dumps(v).encode()),
    topic=st.sampled_from([TOPIC, "v3/app1/devices/dev1/up", None]),
    configured=st.booleans(),
)
def test_arbitrary_input_raises_only_decode_error(payload: bytes, topic: str | None, configured: bool) -> None:
    context = FormatContext("suitcase", {"dev1": BROKEN} if configured else {})
    with acme_codec():
        chooser = Decoder(DecodeSettings())
        chooser.context = context
        try:
            readings = chooser.decode(Message(payload, RECEIVED, topic), "tts")
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


def test_a_codecs_count_of_unknown_fields_read_past_reaches_the_outcome(tmp_path: Path) -> None:
    """#16 point 1: an AM307 uplink with HCHO (0a 7d, an AM319 channel) is stored, the channel counted."""
    up = docs(frm_payload=base64.b64encode(bytes.fromhex("01755c077de7040a7d070009733f27")).decode(), f_port=85)
    up["uplink_message"].pop("decoded_payload", None)
    outcome = decoder(tmp_path, {"dev1": "milesight-iot/am307"}).decode_message(
        Message(json.dumps(up).encode(), RECEIVED, TOPIC), "tts"
    )
    assert [r.quantity for r in outcome.readings][:3] == ["battery", "co2", "pressure"]
    assert outcome.skipped == 1
