"""Decentlab: every published example decodes to the vendor's values; bad frames are rejected by name."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.codecs import decode_uplink
from iot_suitcase.devices.codecs.base import CodecError
from iot_suitcase.devices.codecs.decentlab import CODEC
from iot_suitcase.devices.codecs.decentlab.protocol import build_frame, parse_frame
from iot_suitcase.devices.codecs.decentlab.sensors import SENSORS

TESTDATA = Path(__file__).parent / "testdata"
VECTORS = {path.name: json.loads(path.read_text()) for path in sorted(TESTDATA.glob("*.json"))}


def readings(model: str, payload: bytes, fport: int = 1) -> list[tuple[Any, ...]]:
    return [(r.quantity, r.value, r.unit) for r in CODEC.decode(model, fport, payload)]


def test_every_model_has_a_sensor_table_with_the_listed_quantities() -> None:
    assert set(CODEC.models) == set(SENSORS) == {"decentlab/dl-mbx", "decentlab/dl-pm"}
    for model_id, model in CODEC.models.items():
        table = {quantity for sensor in SENSORS[model_id] for quantity in sensor.quantities}
        assert set(model.quantities) == table
        assert set(model.quantities) <= set(load_catalog().quantities)


def test_all_published_examples_are_in_testdata() -> None:
    assert len(VECTORS) == 5  # 2 DL-MBX + 3 DL-PM examples in the TTN codec files and Decentlab's decoders


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_published_example_decodes_to_the_vendor_values(name: str) -> None:
    vector = VECTORS[name]
    got = readings(vector["model"], bytes.fromhex(vector["payload_hex"]), vector["fport"])
    want = [(r["quantity"], pytest.approx(r["value"], rel=1e-12), r["unit"]) for r in vector["readings"]]
    assert got == want


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_published_example_through_the_catalog_gives_canonical_values(name: str) -> None:
    vector = VECTORS[name]
    catalog = load_catalog()
    canonical = {
        raw.quantity: catalog.canonical_value(catalog.quantity(raw.quantity), raw.value, raw.unit)
        for raw in decode_uplink(vector["model"], vector["fport"], bytes.fromhex(vector["payload_hex"]))
    }
    assert canonical == pytest.approx(vector["canonical"], rel=1e-9)


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_frame_layer_rebuilds_the_published_bytes(name: str) -> None:
    vector = VECTORS[name]
    payload = bytes.fromhex(vector["payload_hex"])
    counts = [len(sensor.fields) for sensor in SENSORS[vector["model"]]]
    frame = parse_frame(vector["model"], payload, counts)
    assert frame.device_id == vector["vendor_output"]["device_id"]
    assert build_frame(frame.device_id, frame.sensors) == payload


def test_mbx_distance_without_valid_samples_is_left_out() -> None:
    # The published example 1 with its "number of valid samples" word set to 0.
    payload = bytes.fromhex("02012f000304d200000bb1")
    assert readings("decentlab/dl-mbx", payload) == [("battery_voltage", pytest.approx(2.993), "V")]


def test_frame_with_no_sensor_flags_has_no_readings() -> None:
    assert readings("decentlab/dl-pm", bytes.fromhex("021b500000")) == []


@pytest.mark.parametrize(
    ("model", "hex_payload", "reason"),
    [
        ("decentlab/dl-mbx", "", "needs a 5-byte header, got 0 bytes"),
        ("decentlab/dl-mbx", "02012f00", "needs a 5-byte header, got 4 bytes"),
        ("decentlab/dl-mbx", "03012f00020bb1", "protocol version 3 at offset 0"),
        ("decentlab/dl-mbx", "02012f00040bb1", "sensor flag bit 2 is set, but the model has only 2 sensors"),
        ("decentlab/dl-pm", "021b508000", "sensor flag bit 15 is set, but the model has only 4 sensors"),
        ("decentlab/dl-mbx", "02012f000304d200010b", "sensor 1 needs 2 bytes at offset 9, only 1 left"),
        ("decentlab/dl-pm", "021b50000f0c250025", "sensor 1 needs 20 bytes at offset 7, only 2 left"),
        ("decentlab/dl-mbx", "02012f00020bb100", "1 bytes left over after the last flagged sensor, at offset 7"),
        ("decentlab/dl-xyz", "02012f00020bb1", "unknown model 'decentlab/dl-xyz'"),
    ],
)
def test_malformed_frames_raise_codec_error_naming_the_problem(model: str, hex_payload: str, reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.decode(model, 1, bytes.fromhex(hex_payload))
    assert reason in caught.value.reason
    assert caught.value.reason.startswith("decentlab")
    assert caught.value.code == "codec_error"


@settings(max_examples=400)
@given(model=st.sampled_from(sorted(SENSORS)), payload=st.binary(max_size=40))
def test_random_bytes_raise_only_codec_error(model: str, payload: bytes) -> None:
    with contextlib.suppress(CodecError):
        CODEC.decode(model, 1, payload)


@settings(max_examples=400)
@given(
    model=st.sampled_from(sorted(SENSORS)),
    flags=st.integers(0, 0xFFFF),
    body=st.binary(max_size=40),
)
def test_random_frames_with_a_valid_header_raise_only_codec_error(model: str, flags: int, body: bytes) -> None:
    payload = bytes([2, 0, 1]) + flags.to_bytes(2, "big") + body
    try:
        for reading in CODEC.decode(model, 1, payload):
            assert math.isfinite(reading.value)
    except CodecError:
        pass


# Values inside both the catalog range and what each 16-bit word holds, in decode's units.
IN_RANGE: dict[str, st.SearchStrategy[float]] = {
    "distance": st.floats(0, 20000),
    "battery_voltage": st.floats(0, 30),
    "pm1": st.floats(0, 2000),
    "pm2_5": st.floats(0, 2000),
    "pm4": st.floats(0, 2000),
    "pm10": st.floats(0, 2000),
    "temperature": st.floats(-46.85, 100),
    "humidity": st.floats(0, 100),
    "pressure": st.floats(30000, 110000),  # Pa: the catalog's 300..1100 hPa
}
RESOLUTION = {field.quantity: field.resolution for s in SENSORS.values() for x in s for field in x.fields}


@st.composite
def model_values(draw: st.DrawFn) -> tuple[str, dict[str, float]]:
    model = draw(st.sampled_from(sorted(SENSORS)))
    values: dict[str, float] = {}
    for sensor in SENSORS[model]:
        if draw(st.booleans()):
            values.update({quantity: draw(IN_RANGE[quantity]) for quantity in sensor.quantities})
    return model, values


@settings(max_examples=300)
@given(model_values())
def test_encode_is_the_inverse_of_decode(drawn: tuple[str, dict[str, float]]) -> None:
    model, values = drawn
    decoded = CODEC.decode(model, 1, CODEC.encode(model, 1, values))
    assert sorted(r.quantity for r in decoded) == sorted(values)
    for reading in decoded:
        tolerance = RESOLUTION[reading.quantity] / 2 + 1e-9
        assert abs(reading.value - values[reading.quantity]) <= tolerance


@pytest.mark.parametrize(
    ("model", "values", "reason"),
    [
        ("decentlab/dl-mbx", {"co2": 400.0}, "cannot encode co2"),
        ("decentlab/dl-pm", {"temperature": 20.0}, "sends temperature, humidity together; missing humidity"),
        ("decentlab/dl-pm", {"pressure": 140000.0}, "barometric pressure 140000 Pa is outside"),
        ("decentlab/dl-mbx", {"distance": -1.0}, "distance -1 mm is outside"),
        ("decentlab/dl-mbx", {"battery_voltage": math.nan}, "battery voltage nan is not a finite number"),
    ],
)
def test_encode_rejects_what_the_frame_cannot_carry(model: str, values: dict[str, Any], reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.encode(model, 1, values)
    assert reason in caught.value.reason
