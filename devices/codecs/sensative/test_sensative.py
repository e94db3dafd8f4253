"""Sensative Strips: published and layout-built examples decode as documented; bad uplinks are named."""

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
from iot_suitcase.devices.codecs.sensative import CODEC
from iot_suitcase.devices.codecs.sensative.codec import ENCODED
from iot_suitcase.devices.codecs.sensative.reports import REPORTS

MODEL = "sensative/strips"
TESTDATA = Path(__file__).parent / "testdata"
VECTORS = {path.name: json.loads(path.read_text()) for path in sorted(TESTDATA.glob("*.json"))}


def readings(payload: bytes, fport: int = 1) -> list[tuple[Any, ...]]:
    return [(r.quantity, r.value, r.unit) for r in CODEC.decode(MODEL, fport, payload)]


def test_the_model_lists_every_quantity_the_reports_produce() -> None:
    assert set(CODEC.models) == {MODEL}
    produced = {reading.quantity for report in REPORTS.values() for reading in report.read(bytes(report.size))}
    model = CODEC.models[MODEL]
    assert set(model.quantities) == produced == {quantity for _, quantity, _, _ in ENCODED}
    assert set(model.quantities) <= set(load_catalog().quantities)


def test_every_published_example_is_in_testdata() -> None:
    published = {v["payload_hex"] for v in VECTORS.values() if v["published"]}
    assert published == {"ffff01500200ea03000d000e001000", "ffff1201"}  # TTN codec file, Sensative README


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_example_decodes_to_the_documented_values(name: str) -> None:
    vector = VECTORS[name]
    got = readings(bytes.fromhex(vector["payload_hex"]), vector["fport"])
    assert got == [(r["quantity"], pytest.approx(r["value"], rel=1e-12), r["unit"]) for r in vector["readings"]]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_example_through_the_catalog_gives_canonical_values(name: str) -> None:
    vector = VECTORS[name]
    catalog = load_catalog()
    canonical = {
        raw.quantity: catalog.canonical_value(catalog.quantity(raw.quantity), raw.value, raw.unit)
        for raw in decode_uplink(MODEL, vector["fport"], bytes.fromhex(vector["payload_hex"]))
    }
    assert canonical == pytest.approx(vector["canonical"], rel=1e-9)


def test_history_bit_does_not_change_the_report() -> None:
    assert readings(bytes.fromhex("ffff0200ea")) == readings(bytes.fromhex("ffff8200ea"))
    assert readings(bytes.fromhex("ffff0200ea")) == [("temperature", pytest.approx(23.4), "degC")]


def test_any_nonzero_door_byte_means_open() -> None:
    assert readings(bytes.fromhex("ffff09ff")) == [("door_open", 1, "count")]
    assert readings(bytes.fromhex("ffff0900")) == [("door_open", 0, "count")]


@pytest.mark.parametrize(
    ("fport", "hex_payload", "reason"),
    [
        (1, "", "starts with a 2-byte history sequence number, got 0 bytes"),
        (1, "ff", "got 1 bytes"),
        (1, "ffff17", "unknown report type 23 at offset 2"),
        (1, "ffff0201", "report type 2 (temperature) needs 2 bytes at offset 3, only 1 left"),
        (1, "ffff015002", "report type 2 (temperature) needs 2 bytes at offset 5, only 0 left"),
        (1, "ffff6e0102", "report type 110 (firmware version and debug counters) needs 8 bytes"),
        (2, "0001000000050200ea", "fPort 2 history uplinks are dated relative to reception; not supported"),
        (3, "ffff0150", "report uplinks arrive on fPort 1, got fPort 3"),
    ],
)
def test_malformed_uplinks_raise_codec_error_naming_the_problem(fport: int, hex_payload: str, reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.decode(MODEL, fport, bytes.fromhex(hex_payload))
    assert reason in caught.value.reason
    assert caught.value.reason.startswith(MODEL)


def test_unknown_model_is_named() -> None:
    with pytest.raises(CodecError, match="unknown model 'sensative/strips-comfort'"):
        CODEC.decode("sensative/strips-comfort", 1, bytes.fromhex("ffff0150"))


REPORT_TYPES = sorted(REPORTS) + [kind | 0x80 for kind in REPORTS]


@st.composite
def item_streams(draw: st.DrawFn) -> bytes:
    """Mostly well-formed report items, sometimes a cut or an unknown type, to reach every branch."""
    body = bytearray(draw(st.binary(min_size=2, max_size=2)))
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.one_of(st.sampled_from(REPORT_TYPES), st.integers(0, 255)))
        body += bytes([kind]) + draw(st.binary(max_size=9))
    return bytes(body)


@settings(max_examples=500)
@given(payload=st.one_of(st.binary(max_size=24), item_streams()), fport=st.sampled_from([1, 1, 1, 2, 0]))
def test_random_bytes_raise_only_codec_error(payload: bytes, fport: int) -> None:
    with contextlib.suppress(CodecError):
        for reading in CODEC.decode(MODEL, fport, payload):
            assert math.isfinite(reading.value)


IN_RANGE: dict[str, st.SearchStrategy[float]] = {
    "battery": st.integers(0, 100).map(float),
    "temperature": st.floats(-60, 100),
    "humidity": st.floats(0, 100),
    "illuminance": st.integers(0, 0xFFFF).map(float),
    "door_open": st.integers(0, 1).map(float),
    "water_leak_level": st.integers(0, 100).map(float),
    "water_leak": st.integers(0, 1).map(float),
}
RESOLUTION = {quantity: 1 / scale for _, quantity, scale, _ in ENCODED}


@settings(max_examples=300)
@given(
    st.dictionaries(st.sampled_from(sorted(IN_RANGE)), st.just(0.0)).flatmap(
        lambda chosen: st.fixed_dictionaries({quantity: IN_RANGE[quantity] for quantity in chosen})
    )
)
def test_encode_is_the_inverse_of_decode(values: dict[str, float]) -> None:
    decoded = CODEC.decode(MODEL, 1, CODEC.encode(MODEL, 1, values))
    assert sorted(r.quantity for r in decoded) == sorted(values)
    for reading in decoded:
        assert abs(reading.value - values[reading.quantity]) <= RESOLUTION[reading.quantity] / 2 + 1e-9


def test_encode_reproduces_the_published_items() -> None:
    encoded = CODEC.encode(MODEL, 1, {"battery": 80, "temperature": 23.4, "water_leak_level": 0, "water_leak": 0})
    assert encoded == bytes.fromhex("ffff01500200ea0d000e00")


@pytest.mark.parametrize(
    ("fport", "values", "reason"),
    [
        (1, {"co2": 400.0}, "cannot encode co2"),
        (1, {"battery": 101.0}, "battery 101 is outside what report type 1 holds (0 to 100)"),
        (1, {"temperature": 4000.0}, "temperature 4000 is outside what report type 2 holds"),
        (1, {"illuminance": 70000.0}, "illuminance 70000 is outside"),
        (1, {"humidity": math.nan}, "humidity nan is not a finite number"),
        (2, {"battery": 50.0}, "not supported"),
    ],
)
def test_encode_rejects_what_the_reports_cannot_carry(fport: int, values: dict[str, float], reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.encode(MODEL, fport, values)
    assert reason in caught.value.reason
