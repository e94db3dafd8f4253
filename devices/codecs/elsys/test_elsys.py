"""Elsys codec: the vendor's published examples decode to their values, bad bytes are clear rejects, and
encode is the inverse of decode for every model."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.cli import main as suitcase
from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.codecs import MODELS, CodecError, codec_for, decode_uplink
from iot_suitcase.devices.codecs.elsys import CODEC
from iot_suitcase.devices.codecs.elsys.payload import TYPES, build, parse
from iot_suitcase.devices.errors import DecodeError, RejectCode

TESTDATA = Path(__file__).parent / "testdata"
TTN = json.loads((TESTDATA / "ttn-examples.json").read_text())["examples"]
ATK = json.loads((TESTDATA / "allthingstalk-payloads.json").read_text())["examples"]
LAYOUT = json.loads((TESTDATA / "layout-examples.json").read_text())["examples"]
ALL_VECTORS = TTN + ATK + LAYOUT

# The model ids of TheThingsNetwork/lorawan-devices vendor/elsys (index.yaml plus the EMS family's files).
TTN_MODEL_IDS = {
    "elsys/ers", "elsys/ers-co2", "elsys/ers-co2-lite", "elsys/ers-voc", "elsys/ers-eye", "elsys/ers-sound",
    "elsys/ers-lite", "elsys/elt-2", "elsys/elt-lite", "elsys/elt-ultrasonic", "elsys/ems", "elsys/ems-desk",
    "elsys/ems-door", "elsys/ems-lite",
}  # fmt: skip


def readings_of(model: str, fport: int, payload: bytes) -> list[list[Any]]:
    return [[r.quantity, r.value, r.unit] for r in CODEC.decode(model, fport, payload)]


def approx(rows: list[list[Any]]) -> list[list[Any]]:
    return [[quantity, pytest.approx(value, rel=1e-12, abs=1e-12), unit] for quantity, value, unit in rows]


# -- 1. published examples -------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=lambda v: v["name"])
def test_examples_decode_to_the_expected_readings(vector: dict[str, Any]) -> None:
    got = readings_of(vector["model"], vector["fport"], bytes.fromhex(vector["bytes"]))
    assert got == approx(vector["readings"])


# Vendor output keys whose value is the reading's value unchanged (waterleak, occupancy and the pulse
# counters are mapped with a rule, checked in their own tests).
SAME_VALUE = {
    "temperature": "temperature", "humidity": "humidity", "light": "illuminance", "motion": "motion",
    "co2": "co2", "pressure": "pressure", "distance": "distance", "soundPeak": "noise_lamax",
    "soundAvg": "noise_laeq",
}  # fmt: skip


@pytest.mark.parametrize("vector", TTN, ids=lambda v: v["name"])
def test_ttn_examples_agree_with_the_vendor_decoder_output(vector: dict[str, Any]) -> None:
    got = {quantity: value for quantity, value, _unit in readings_of("elsys/ers", 1, bytes.fromhex(vector["bytes"]))}
    for key, quantity in SAME_VALUE.items():
        if key in vector["vendor_output"]:
            assert got[quantity] == pytest.approx(vector["vendor_output"][key]), key


def test_every_ttn_model_has_a_vendor_example_except_elt_lite() -> None:
    # elt-lite-codec.yaml publishes no bytes; the layout examples cover it.
    assert {v["model"] for v in TTN} == TTN_MODEL_IDS - {"elsys/elt-lite"}
    assert "elsys/elt-lite" in {v["model"] for v in LAYOUT}


def test_waterleak_and_door_switch_follow_the_vendor_values() -> None:
    ems = next(v for v in TTN if v["name"] == "ems")
    got = dict((q, v) for q, v, _u in readings_of("elsys/ems", 1, bytes.fromhex(ems["bytes"])))
    assert got["water_leak_level"] == pytest.approx(ems["vendor_output"]["waterleak"] / 255 * 100)
    # pulse1 is sent twice (4353, then 8465); the vendor's output keeps the last, and so do we.
    assert got["door_openings"] == ems["vendor_output"]["pulse1"] == 8465


def test_pulse1_is_a_door_only_on_models_with_a_door_switch() -> None:
    payload = bytes.fromhex("0a0005" + "0b000007f4")
    assert readings_of("elsys/ems-door", 5, payload) == [
        ["door_openings", 5, "count"],
        ["door_openings_total", 2036, "count"],
    ]
    assert readings_of("elsys/ems", 5, payload) == [
        ["door_openings", 5, "count"],
        ["door_openings_total", 2036, "count"],
    ]
    assert readings_of("elsys/elt-lite", 5, payload) == []


def test_occupancy_states_map_to_free_or_occupied() -> None:
    """#16: "pending" (someone entering or leaving) gave no reading; a person is there, so it is occupied."""
    assert readings_of("elsys/ers-eye", 5, b"\x11\x00") == [["occupancy", 0, "count"]]
    assert readings_of("elsys/ers-eye", 5, b"\x11\x01") == [["occupancy", 1, "count"]]
    assert readings_of("elsys/ers-eye", 5, b"\x11\x02") == [["occupancy", 1, "count"]]


def test_the_elt_2_payload_of_issue_16_keeps_its_external_temperature() -> None:
    """A Swedish municipality's ELT-2 uplink: the probe's 19.3 degC was parsed and dropped."""
    payload = base64.b64decode("Bw2KDADB")
    assert readings_of("elsys/elt-2", 5, payload) == [
        ["battery_voltage", 3466, "mV"],
        ["external_temperature", pytest.approx(19.3), "degC"],
    ]


def test_canonical_values_through_the_registry_and_catalog() -> None:
    catalog = load_catalog()
    sound = next(v for v in ATK if v["name"] == "ers-sound-1")
    canonical = {
        raw.quantity: catalog.canonical_value(catalog.quantity(raw.quantity), raw.value, raw.unit)
        for raw in decode_uplink("elsys/ers-sound", 5, bytes.fromhex(sound["bytes"]))
    }
    assert canonical == {
        "temperature": pytest.approx(12.4),
        "humidity": 48,
        "illuminance": 2,
        "motion": 0,
        "battery_voltage": pytest.approx(3.623),
        "noise_lamax": 64,
        "noise_laeq": 34,
    }
    ems = next(v for v in TTN if v["name"] == "ems-lite")
    leak = {r.quantity: r for r in decode_uplink("elsys/ems-lite", 1, bytes.fromhex(ems["bytes"]))}["water_leak_level"]
    percent = catalog.canonical_value(catalog.quantity(leak.quantity), leak.value, leak.unit)
    assert percent == pytest.approx(6.6667, 1e-4)


def test_the_implausible_pressure_of_the_elt_2_example_is_rejected_by_the_catalog() -> None:
    # The (commented-out) vendor example sends 100729.105 hPa; the codec reports it, the catalog refuses it.
    elt2 = next(v for v in TTN if v["name"] == "elt-2")
    pressure = {r.quantity: r for r in decode_uplink("elsys/elt-2", 1, bytes.fromhex(elt2["bytes"]))}["pressure"]
    catalog = load_catalog()
    with pytest.raises(DecodeError) as caught:
        catalog.canonical_value(catalog.quantity("pressure"), pressure.value, pressure.unit)
    assert caught.value.code is RejectCode.OUT_OF_RANGE


def test_cli_decodes_a_vendor_example(capsys: pytest.CaptureFixture[str]) -> None:
    co2 = next(v for v in TTN if v["name"] == "ers-co2")
    assert suitcase(["codec", "decode", "elsys/ers-co2", "--fport", "5", co2["bytes"].replace(" ", "")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["quantity"], r["value"], r["unit"]) for r in rows] == [
        ("temperature", 22.6, "degC"),
        ("humidity", 41.0, "%"),
        ("illuminance", 39.0, "lux"),
        ("motion", 6.0, "count"),
        ("co2", 776.0, "ppm"),
    ]


def test_models_are_the_ttn_ids_and_fit_the_catalog() -> None:
    assert set(CODEC.models) == TTN_MODEL_IDS
    assert {model for model in MODELS if model.startswith("elsys/")} == TTN_MODEL_IDS
    assert codec_for("elsys/ers") is CODEC
    catalog = load_catalog()
    for model in CODEC.models.values():
        assert model.kind in catalog.kinds, model.id
        for quantity in model.quantities:
            assert quantity in catalog.quantities, (model.id, quantity)


# -- 2. malformed input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fport", "hex_bytes", "reason"),
    [
        ("elsys/ers", 5, "", "elsys: empty payload"),
        ("elsys/ers", 5, "0100", "elsys: type 0x01 (temperature) needs 2 bytes at offset 1, only 1 left"),
        ("elsys/ers", 5, "070e", "elsys: type 0x07 (vdd) needs 2 bytes at offset 1, only 1 left"),
        ("elsys/ers", 5, "0100e2070e", "elsys: type 0x07 (vdd) needs 2 bytes at offset 4, only 1 left"),
        ("elsys/ers", 5, "0100e2ff00", "elsys: unknown type 0xff at offset 3; records carry no length, "
                                       "so the remaining 2 bytes cannot be read"),
        ("elsys/ers", 5, "3e0102", "elsys: unknown type 0x3e at offset 0"),
        ("elsys/ers", 5, "00", "elsys: unknown type 0x00 at offset 0"),
        ("elsys/ers", 5, "1314" + "05" * 10, "elsys: type 0x13 (grideye) needs 65 bytes at offset 1, only 11 left"),
        ("elsys/ers-sound", 5, "1540", "elsys: type 0x15 (sound) needs 2 bytes at offset 1, only 1 left"),
        ("elsys/ers-eye", 5, "0100e21103", "elsys: type 0x11 (occupancy) at offset 3: occupancy state 3 is undefined"),
        ("elsys/ers", 0, "0100e2", "elsys: fport 0 carries no application data (expected 1..223)"),
        ("elsys/ers", 224, "0100e2", "elsys: fport 224 carries no application data"),
        ("elsys/ers-9000", 5, "0100e2", "elsys: unknown model 'elsys/ers-9000'; known: elsys/elt-2"),
    ],
)  # fmt: skip
def test_malformed_input_is_a_codec_error_naming_it(model: str, fport: int, hex_bytes: str, reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.decode(model, fport, bytes.fromhex(hex_bytes))
    assert caught.value.code is RejectCode.CODEC_ERROR
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("model", "values", "reason"),
    [
        ("elsys/ers", {}, "elsys: nothing to encode"),
        ("elsys/ers", {"co2": 400}, "elsys: elsys/ers does not report ['co2']"),
        ("elsys/ers-sound", {"noise_laeq": 40}, "elsys: type 0x15 (sound) also carries 'noise_lamax'"),
        ("elsys/ers", {"temperature": 5000}, "elsys: type 0x01 (temperature) cannot hold temperature=5000"),
        ("elsys/ers", {"humidity": -1}, "elsys: type 0x02 (humidity) cannot hold humidity=-1"),
        ("elsys/ers", {"temperature": math.nan}, "elsys: type 0x01 (temperature) field temperature: nan is not"),
        ("elsys/ems-desk", {"occupancy": 0.5}, "elsys: occupancy: 0.5 is neither 0 (free) nor 1 (occupied)"),
        ("elsys/ems-lite", {"water_leak_level": 101}, "elsys: type 0x12 (waterleak) cannot hold"),
    ],
)
def test_encode_rejects_what_the_format_cannot_carry(model: str, values: dict[str, float], reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.encode(model, 5, values)
    assert caught.value.reason.startswith(reason)


# -- 3. random bytes -------------------------------------------------------------------------------------

MODEL_IDS = sorted(TTN_MODEL_IDS)


@settings(max_examples=500)
@given(model=st.sampled_from(MODEL_IDS), fport=st.integers(-5, 300), payload=st.binary(max_size=200))
def test_random_bytes_raise_only_codec_errors(model: str, fport: int, payload: bytes) -> None:
    try:
        readings = CODEC.decode(model, fport, payload)
    except CodecError:
        return
    assert all(math.isfinite(r.value) for r in readings)


def record_bytes() -> st.SearchStrategy[bytes]:
    """A well-formed record of any known type with random value bytes."""
    return st.sampled_from(sorted(TYPES)).flatmap(
        lambda code: st.binary(min_size=TYPES[code].size, max_size=TYPES[code].size).map(lambda b: bytes([code]) + b)
    )


@settings(max_examples=300)
@given(model=st.sampled_from(MODEL_IDS), records=st.lists(record_bytes(), min_size=1, max_size=12))
def test_well_formed_records_decode_or_raise_a_codec_error(model: str, records: list[bytes]) -> None:
    payload = b"".join(records)
    parsed = parse(payload)
    assert len(parsed) == len(records)
    # An occupancy state above 2 is the only value a well-formed record can hold that is undefined.
    undefined = any(r.type.name == "occupancy" and r.values["occupancy"] > 2 for r in parsed)
    if undefined:
        with pytest.raises(CodecError, match="occupancy state"):
            CODEC.decode(model, 5, payload)
    else:
        assert all(math.isfinite(r.value) for r in CODEC.decode(model, 5, payload))


@given(records=st.lists(record_bytes().filter(lambda r: bool(TYPES[r[0]].fields)), min_size=1, max_size=12))
def test_build_is_the_exact_inverse_of_parse(records: list[bytes]) -> None:
    payload = b"".join(records)
    assert build([(record.type.code, record.values) for record in parse(payload)]) == payload


# -- 4. encode is the inverse of decode ------------------------------------------------------------------

# Values a simulator may send: inside the catalog's plausible range and what the format can carry,
# in the units decode returns, with the resolution of the encoding.
ENCODABLE: dict[str, tuple[st.SearchStrategy[float], float]] = {
    "temperature": (st.floats(-60, 100), 0.05),
    "humidity": (st.floats(0, 100), 0.5),
    "illuminance": (st.floats(0, 65535), 0.5),
    "motion": (st.floats(0, 255), 0.5),
    "co2": (st.floats(0, 40000), 0.5),
    "tvoc": (st.floats(0, 60000), 0.5),
    "battery_voltage": (st.floats(0, 30000), 0.5),
    "pressure": (st.floats(300, 1100), 0.0005),
    "distance": (st.floats(0, 20000), 0.5),
    "noise_laeq": (st.floats(0, 140), 0.5),
    "noise_lamax": (st.floats(0, 140), 0.5),
    "occupancy": (st.sampled_from([0.0, 1.0]), 0.0),
    "water_leak_level": (st.floats(0, 100), 100 / 255 / 2),
    "door_openings": (st.floats(0, 65535), 0.5),
    "door_openings_total": (st.floats(0, 4294967295), 0.5),
    "external_temperature": (st.floats(-60, 150), 0.05),
}


@st.composite
def model_values(draw: st.DrawFn) -> tuple[str, dict[str, float]]:
    model = draw(st.sampled_from(MODEL_IDS))
    quantities = CODEC.models[model].quantities
    chosen = draw(st.lists(st.sampled_from(quantities), min_size=1, unique=True))
    if "noise_laeq" in chosen or "noise_lamax" in chosen:  # one sound record carries both
        chosen = list({*chosen, "noise_laeq", "noise_lamax"})
    return model, {q: draw(ENCODABLE[q][0]) for q in chosen}


@settings(max_examples=300)
@given(case=model_values())
def test_encode_then_decode_gives_the_values_back(case: tuple[str, dict[str, float]]) -> None:
    model, values = case
    decoded = {r.quantity: r for r in CODEC.decode(model, 5, CODEC.encode(model, 5, values))}
    assert set(decoded) == set(values)
    catalog = load_catalog()
    for quantity, value in values.items():
        assert abs(decoded[quantity].value - value) <= ENCODABLE[quantity][1] + 1e-9, quantity
        # and what a simulator sends is accepted by the pipeline
        catalog.canonical_value(catalog.quantity(quantity), decoded[quantity].value, decoded[quantity].unit)


def test_every_model_quantity_has_an_encodable_strategy() -> None:
    assert {q for model in CODEC.models.values() for q in model.quantities} == set(ENCODABLE)
