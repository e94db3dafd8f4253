"""Dragino: published and layout-built examples decode as documented; anything else is rejected by name."""

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
from iot_suitcase.devices.codecs.dragino import CODEC
from iot_suitcase.devices.codecs.dragino.codec import FRAMES

TESTDATA = Path(__file__).parent / "testdata"
VECTORS = {path.name: json.loads(path.read_text()) for path in sorted(TESTDATA.glob("*.json"))}
DECODABLE = sorted(name for name, vector in VECTORS.items() if "readings" in vector)
REJECTED = sorted(name for name, vector in VECTORS.items() if "error" in vector)


def readings(model: str, fport: int, payload: bytes) -> list[tuple[Any, ...]]:
    return [(r.quantity, r.value, r.unit) for r in CODEC.decode(model, fport, payload)]


def test_models_toml_matches_the_frame_modules() -> None:
    assert set(CODEC.models) == set(FRAMES) == {"dragino/ldds75", "dragino/lds02"}
    catalog = load_catalog()
    for model in CODEC.models.values():
        assert set(model.quantities) <= set(catalog.quantities)
        assert model.kind in catalog.kinds


def test_every_published_ttn_example_is_in_testdata() -> None:
    published = {(v["model"], v["fport"], v["payload_hex"]) for v in VECTORS.values() if v["published"]}
    assert published == {
        ("dragino/ldds75", 2, "0e1c0b05"),
        ("dragino/ldds75", 42, "0e1c0b05"),
        ("dragino/lds02", 10, "0b880100250001"),
        ("dragino/lds02", 42, "0b880100250001"),
    }


@pytest.mark.parametrize("name", DECODABLE)
def test_example_decodes_to_the_documented_values(name: str) -> None:
    vector = VECTORS[name]
    got = readings(vector["model"], vector["fport"], bytes.fromhex(vector["payload_hex"]))
    assert got == [(r["quantity"], pytest.approx(r["value"], rel=1e-12), r["unit"]) for r in vector["readings"]]


@pytest.mark.parametrize("name", DECODABLE)
def test_example_through_the_catalog_gives_canonical_values(name: str) -> None:
    vector = VECTORS[name]
    catalog = load_catalog()
    canonical = {
        raw.quantity: catalog.canonical_value(catalog.quantity(raw.quantity), raw.value, raw.unit)
        for raw in decode_uplink(vector["model"], vector["fport"], bytes.fromhex(vector["payload_hex"]))
    }
    assert canonical == pytest.approx(vector["canonical"], rel=1e-9)


@pytest.mark.parametrize("name", REJECTED)
def test_example_that_is_not_a_documented_uplink_is_rejected_with_the_reason(name: str) -> None:
    vector = VECTORS[name]
    with pytest.raises(CodecError) as caught:
        CODEC.decode(vector["model"], vector["fport"], bytes.fromhex(vector["payload_hex"]))
    assert caught.value.reason == f"{vector['model']}: {vector['error']}"


@pytest.mark.parametrize(
    ("model", "fport", "hex_payload", "reason"),
    [
        ("dragino/ldds75", 2, "", "an uplink is 8 bytes"),
        ("dragino/ldds75", 2, "0b450b0500010501ff", "got 9 bytes"),
        ("dragino/ldds75", 3, "0b450b0500010501", "uplinks arrive on fPort 2, got fPort 3"),
        ("dragino/lds02", 10, "0b8801002500010000", "an uplink is 10 bytes"),
        ("dragino/lds02", 10, "0b880300000000000000", "MOD 3 at offset 2"),
        ("dragino/lds01", 10, "0b880100250001000000", "dragino: unknown model 'dragino/lds01'"),
    ],
)
def test_malformed_uplinks_raise_codec_error_naming_the_problem(
    model: str, fport: int, hex_payload: str, reason: str
) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.decode(model, fport, bytes.fromhex(hex_payload))
    assert reason in caught.value.reason
    assert caught.value.reason.startswith("dragino")


@settings(max_examples=400)
@given(
    model=st.sampled_from(sorted(FRAMES)),
    fport=st.sampled_from([2, 10, 1, 0, 255]),
    payload=st.one_of(st.binary(max_size=16), st.binary(min_size=8, max_size=8), st.binary(min_size=10, max_size=10)),
)
def test_random_bytes_raise_only_codec_error(model: str, fport: int, payload: bytes) -> None:
    with contextlib.suppress(CodecError):
        for reading in CODEC.decode(model, fport, payload):
            assert math.isfinite(reading.value)


BATTERY_V = st.integers(0, 0x3FFF).map(lambda mv: mv / 1000)
NOT_A_PROBE_SENTINEL = st.floats(-60, 100).filter(lambda t: round(t * 10) != 0)


@st.composite
def model_values(draw: st.DrawFn) -> tuple[str, int, dict[str, float]]:
    model = draw(st.sampled_from(sorted(FRAMES)))
    if model == "dragino/lds02":
        return model, 10, {"battery_voltage": draw(BATTERY_V), "door_open": float(draw(st.integers(0, 1)))}
    values = {"battery_voltage": draw(BATTERY_V)}
    if draw(st.booleans()):
        values["distance"] = draw(st.floats(280, 20000))
    if draw(st.booleans()):
        values["temperature"] = draw(NOT_A_PROBE_SENTINEL)
    return model, 2, values


RESOLUTION = {"battery_voltage": 0.001, "door_open": 1.0, "distance": 1.0, "temperature": 0.1}


@settings(max_examples=300)
@given(model_values())
def test_encode_is_the_inverse_of_decode(drawn: tuple[str, int, dict[str, float]]) -> None:
    model, fport, values = drawn
    decoded = CODEC.decode(model, fport, CODEC.encode(model, fport, values))
    assert sorted(r.quantity for r in decoded) == sorted(values)
    for reading in decoded:
        assert abs(reading.value - values[reading.quantity]) <= RESOLUTION[reading.quantity] / 2 + 1e-9


def test_encode_reproduces_the_layout_examples() -> None:
    assert CODEC.encode("dragino/ldds75", 2, {"battery_voltage": 2.885, "distance": 2821, "temperature": 26.1}) == (
        bytes.fromhex("0b450b0500010501")
    )
    assert CODEC.encode("dragino/lds02", 10, {"battery_voltage": 2.952, "door_open": 0}) == bytes.fromhex(
        "0b880100000000000000"
    )


@pytest.mark.parametrize(
    ("model", "fport", "values", "reason"),
    [
        ("dragino/ldds75", 2, {"distance": 1000.0}, "every uplink carries the battery; give battery_voltage"),
        ("dragino/ldds75", 2, {"battery_voltage": 3.0, "co2": 1.0}, "cannot encode co2"),
        ("dragino/ldds75", 2, {"battery_voltage": 3.0, "distance": 100.0}, "distance 100 mm is outside"),
        ("dragino/ldds75", 2, {"battery_voltage": 3.0, "temperature": 0.0}, "which means 'no probe'"),
        ("dragino/ldds75", 2, {"battery_voltage": math.inf}, "battery_voltage inf is not a finite number"),
        ("dragino/ldds75", 10, {"battery_voltage": 3.0}, "uplinks arrive on fPort 2, got fPort 10"),
        ("dragino/lds02", 10, {"battery_voltage": 3.0}, "every uplink carries the door state; give door_open"),
        ("dragino/lds02", 10, {"battery_voltage": 20.0, "door_open": 1.0}, "battery_voltage 20000 mV is outside"),
        ("dragino/lds02", 10, {"battery_voltage": 3.0, "door_open": 2.0}, "door_open 2 count is outside"),
    ],
)
def test_encode_rejects_what_the_frame_cannot_carry(
    model: str, fport: int, values: dict[str, float], reason: str
) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.encode(model, fport, values)
    assert reason in caught.value.reason
