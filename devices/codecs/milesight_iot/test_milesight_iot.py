"""Milesight: published examples decode to the vendor's values; bad bytes are CodecErrors; encode inverts decode."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.codecs import MODELS, codec_for, decode_uplink
from iot_suitcase.devices.codecs.base import Codec, CodecError
from iot_suitcase.devices.codecs.milesight_iot import CODEC
from iot_suitcase.devices.codecs.milesight_iot import channels as ch
from iot_suitcase.devices.codecs.milesight_iot.layouts import LAYOUTS, O3_UG_M3_PER_PPM, SIZE_OF_TYPE, writers
from iot_suitcase.devices.errors import RejectCode
from iot_suitcase.devices.reading import RawReading

TESTDATA = Path(__file__).parent / "testdata"
CATALOG = load_catalog()
EXAMPLES = [
    (doc["model"], example)
    for doc in (json.loads(path.read_text()) for path in sorted(TESTDATA.glob("*.json")))
    for example in doc["examples"]
]
IDS = [f"{model.split('/')[1]}:{example['name']}" for model, example in EXAMPLES]
# The vendors' words for enumerations, as the numbers the channels carry.
VENDOR_WORDS = {"trigger": 1, "idle": 0, "tilt": 1, "normal": 0}


def payload_of(example: dict[str, Any]) -> bytes:
    """The example's bytes, cut before the rejected record when the example documents a reject."""
    payload = bytes.fromhex(example["hex"])
    return payload[: example["error"]["offset"]] if "error" in example else payload


def records(model: str, fport: int, payload: bytes) -> list[tuple[str, dict[str, float]]]:
    return [(record.slot.channel.label, record.values) for record in CODEC.parse(model, fport, payload)]


def numbers(value: Any) -> list[float]:
    """Every number in a vendor's decoded JSON (booleans and known enumeration words included)."""
    if isinstance(value, bool):
        return [int(value)]
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, str):
        return [VENDOR_WORDS[value]] if value in VENDOR_WORDS else []
    if isinstance(value, dict):
        return [n for item in value.values() for n in numbers(item)]
    return [n for item in value for n in numbers(item)]


def reading_dicts(model: str, fport: int, payload: bytes) -> list[dict[str, Any]]:
    return [
        {
            "quantity": r.quantity,
            "value": r.value,
            "unit": r.unit,
            **({} if r.time is None else {"time": r.time.isoformat().replace("+00:00", "Z")}),
        }
        for r in CODEC.decode(model, fport, payload)
    ]


# --- the published examples -------------------------------------------------------------------------


def test_every_model_has_examples_and_every_example_names_its_source() -> None:
    assert {model for model, _ in EXAMPLES} == set(CODEC.models)
    for _, example in EXAMPLES:
        assert example["sources"]
        assert ("vendor_output" in example) != ("layout_values" in example), example["name"]
        built = all(source.startswith("BUILT") for source in example["sources"])
        assert built == ("layout_values" in example), example["name"]


@pytest.mark.parametrize(("model", "example"), EXAMPLES, ids=IDS)
def test_example_parses_to_its_documented_records(model: str, example: dict[str, Any]) -> None:
    want: list[Any] = [(label, pytest.approx(values)) for label, values in example["records"]]
    assert records(model, example["fport"], payload_of(example)) == want


@pytest.mark.parametrize(("model", "example"), EXAMPLES, ids=IDS)
def test_every_number_the_vendor_published_is_among_the_parsed_values(model: str, example: dict[str, Any]) -> None:
    parsed = [value for _, values in records(model, example["fport"], payload_of(example)) for value in values.values()]
    published = numbers(example.get("vendor_output", example.get("layout_values")))
    for number in published:
        match = next((i for i, value in enumerate(parsed) if value == pytest.approx(number)), None)
        assert match is not None, f"{number} is not among the parsed values {parsed}"
        parsed.pop(match)


@pytest.mark.parametrize(("model", "example"), EXAMPLES, ids=IDS)
def test_example_decodes_to_its_catalog_readings(model: str, example: dict[str, Any]) -> None:
    want = [{**r, "value": pytest.approx(r["value"], rel=1e-4)} for r in example["readings"]]
    assert reading_dicts(model, example["fport"], payload_of(example)) == want


def test_the_am307_uplinks_of_issue_16_decode() -> None:
    """Real AM307 uplinks carry channels no AM300 document lists: the PIR activity level (05 6a) and HCHO
    (0a 7d, an AM319 channel). The first is read past as a known channel; the second by its type's size,
    and counted."""
    first = CODEC.decode("milesight-iot/am307", 85, bytes.fromhex("01755C03673401046865056A4900"))
    assert [(r.quantity, r.value) for r in first] == [("battery", 92), ("temperature", 30.8), ("humidity", 50.5)]
    assert first.skipped == 0
    second = CODEC.decode("milesight-iot/am307", 85, bytes.fromhex("01755c077de7040a7d070009733f27"))
    assert [(r.quantity, r.value) for r in second] == [
        ("battery", 92),
        ("co2", 1255),
        ("pressure", pytest.approx(1004.7)),
    ]
    assert second.skipped == 1


def test_an_unknown_channel_is_read_past_only_when_its_type_tells_its_size() -> None:
    assert SIZE_OF_TYPE[0x7D] == 2
    assert 0x67 not in SIZE_OF_TYPE, "3 bytes with an alarm byte (83 67), 2 without: no one size"
    assert 0xCE not in SIZE_OF_TYPE, "history records differ per model"
    skipped = CODEC.decode("milesight-iot/em300-th", 85, bytes.fromhex("0b7d0100" + "01755c"))
    assert (list(skipped), skipped.skipped) == ([RawReading("battery", 92, "%")], 1)
    for unknown in ("0b990100" + "01755c", "ff037d02" + "01755c", "fe7d0100" + "01755c"):
        with pytest.raises(CodecError, match="whose size is not known"):
            CODEC.decode("milesight-iot/em300-th", 85, bytes.fromhex(unknown))


@pytest.mark.parametrize(
    ("model", "hex_payload", "quantity", "canonical", "unit"),
    [
        ("milesight-iot/em300-th", "01755c03673401046865", "temperature", 30.8, "degC"),
        ("milesight-iot/em310-udl", "01755c03824408040001", "distance", 2116.0, "mm"),
        ("milesight-iot/em400-udl", "8482330701", "distance", 1843.0, "mm"),
        ("milesight-iot/am307", "077de704087d070009733f27", "pressure", 1004.7, "hPa"),
        ("milesight-iot/am319", "01755c0d7d0500", "o3", 99.791, "ug/m3"),
        ("milesight-iot/am319", "0367ee0004687c05000106cb02", "occupancy", 1.0, "count"),
        ("milesight-iot/ws302", "017564055b053f02da016a02", "noise_lamax", 61.8, "dB(A)"),
    ],
)
def test_registry_and_catalog_give_canonical_values(
    model: str, hex_payload: str, quantity: str, canonical: float, unit: str
) -> None:
    codec: Codec = CODEC  # mypy checks that the codec satisfies the protocol
    assert codec_for(model) is codec
    raw = next(r for r in decode_uplink(model, 85, bytes.fromhex(hex_payload)) if r.quantity == quantity)
    entry = CATALOG.quantity(quantity)
    assert entry.unit == unit
    assert CATALOG.canonical_value(entry, raw.value, raw.unit) == pytest.approx(canonical, rel=1e-4)


def test_history_records_keep_their_own_time() -> None:
    (temperature, humidity) = decode_uplink("milesight-iot/em300-th", 85, bytes.fromhex("20ce9e74466310015d00"))
    assert temperature.time == humidity.time == datetime.fromisoformat("2022-10-12T08:02:38+00:00")


def test_ozone_factor_matches_the_published_eu_conversion() -> None:
    # UK DEFRA / EU: 1 ppb of ozone is 1.9957 ug/m3 at 20 degC and 1013 hPa
    factor = O3_UG_M3_PER_PPM
    assert factor == pytest.approx(1995.7, rel=1e-3)


# --- models.toml and the layouts agree ----------------------------------------------------------------


@pytest.mark.parametrize("model_id", sorted(CODEC.models))
def test_model_lists_exactly_the_quantities_its_layout_can_report(model_id: str) -> None:
    model = CODEC.models[model_id]
    reported = {quantity for slot in LAYOUTS[model_id] for quantity in slot.quantities}
    assert set(model.quantities) == reported
    assert model.kind in CATALOG.kinds
    assert all(quantity in CATALOG.quantities for quantity in model.quantities)
    assert model.vendor == CODEC.vendor == "milesight-iot"
    assert MODELS[model_id] == model


# --- malformed input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fport", "hex_payload", "reason"),
    [
        ("milesight-iot/em300-th", 85, "", "milesight-iot/em300-th: payload is empty"),
        (
            "milesight-iot/em300-th",
            85,
            "0367c8",
            "milesight-iot/em300-th: channel 0x03 0x67 (temperature) needs 2 bytes at offset 2, only 1 left",
        ),
        (
            "milesight-iot/em300-th",
            85,
            "20ce9e7446",
            "milesight-iot/em300-th: channel 0x20 0xce (history) needs 8 bytes at offset 2, only 3 left",
        ),
        (
            "milesight-iot/em300-th",
            85,
            "01753203",
            "milesight-iot/em300-th: 1 byte left at offset 3, a channel needs an id and a type",
        ),
        (
            "milesight-iot/am307",
            85,
            "01755c0aab0400",
            "milesight-iot/am307: unknown channel 0x0a type 0xab at offset 3",
        ),
        (
            "milesight-iot/em310-udl",
            85,
            "05ab01",
            "milesight-iot/em310-udl: unknown channel 0x05 type 0xab at offset 0",
        ),
        (
            "milesight-iot/em400-udl",
            85,
            "03824408",
            "milesight-iot/em400-udl: unknown channel 0x03 type 0x82 at offset 0",
        ),
        ("milesight-iot/ws302", 85, "ff0301e0", "milesight-iot/ws302: unknown channel 0xff type 0x03 at offset 0"),
        (
            "milesight-iot/ws302",
            85,
            "055b033f02da016a02",
            "milesight: sound weighting byte 0x03 uses a reserved frequency weighting code 3",
        ),
        (
            "milesight-iot/ws302",
            85,
            "055b0d3f02da016a02",
            "milesight: sound weighting byte 0x0d uses a reserved time weighting code 3",
        ),
        ("milesight-iot/ws302", 0, "017564", "milesight-iot/ws302: fport 0 is not an application port (1-223)"),
        ("milesight-iot/ws302", 224, "017564", "milesight-iot/ws302: fport 224 is not an application port (1-223)"),
        ("milesight-iot/ws303", 85, "017564", "milesight-iot: unknown model 'milesight-iot/ws303'; known: "),
    ],
)
def test_malformed_payloads_raise_codec_errors_that_say_what_is_wrong(
    model: str, fport: int, hex_payload: str, reason: str
) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.decode(model, fport, bytes.fromhex(hex_payload))
    assert caught.value.code is RejectCode.CODEC_ERROR
    assert caught.value.reason.startswith(reason)


@settings(max_examples=300, deadline=None)
@given(model=st.sampled_from(sorted(LAYOUTS)), fport=st.integers(-5, 300), payload=st.binary(max_size=80))
def test_random_bytes_raise_only_codec_errors(model: str, fport: int, payload: bytes) -> None:
    try:
        readings = CODEC.decode(model, fport, payload)
    except CodecError:
        return
    assert all(r.quantity in CODEC.models[model].quantities for r in readings)


@st.composite
def plausible_uplinks(draw: st.DrawFn) -> tuple[str, bytes]:
    """Runs of the model's own channel headers with random values: reaches every channel's decoding."""
    model = draw(st.sampled_from(sorted(LAYOUTS)))
    channels = [slot.channel for slot in LAYOUTS[model]] + list(ch.ATTRIBUTES)
    chosen = draw(st.lists(st.sampled_from(channels), min_size=1, max_size=8))
    body = b"".join(bytes(c.key) + draw(st.binary(min_size=c.size, max_size=c.size)) for c in chosen)
    return model, body + draw(st.binary(max_size=2))


@settings(max_examples=300, deadline=None)
@given(uplink=plausible_uplinks())
def test_random_values_in_real_channels_raise_only_codec_errors(uplink: tuple[str, bytes]) -> None:
    model, payload = uplink
    try:
        readings = CODEC.decode(model, 85, payload)
    except CodecError:
        return
    assert all(math.isfinite(r.value) for r in readings)


# --- encode is the inverse of decode --------------------------------------------------------------------


@st.composite
def quantity_values(draw: st.DrawFn) -> tuple[str, dict[str, float]]:
    """A model and in-range values for a non-empty set of the channels encode writes for it."""
    model = draw(st.sampled_from(sorted(LAYOUTS)))
    chosen = draw(st.lists(st.sampled_from(writers(model)), min_size=1, unique=True))
    values: dict[str, float] = {}
    for slot in chosen:
        for quantity in slot.quantities:
            entry = CATALOG.quantity(quantity)
            low, high = slot.span(quantity)
            values[quantity] = draw(st.floats(max(low, entry.min), min(high, entry.max)))
    return model, values


@settings(max_examples=400, deadline=None)
@given(case=quantity_values())
def test_encode_then_decode_gives_the_values_back_within_resolution(case: tuple[str, dict[str, float]]) -> None:
    model, values = case
    readings = CODEC.decode(model, 85, CODEC.encode(model, 85, values))
    got = {r.quantity: r.value for r in readings}
    assert set(got) == set(values)
    steps = {q: slot.resolution(q) for slot in writers(model) for q in slot.quantities}
    for quantity, value in values.items():
        assert abs(got[quantity] - value) <= steps[quantity] / 2 + 1e-9, quantity
    for reading in readings:
        CATALOG.canonical_value(CATALOG.quantity(reading.quantity), reading.value, reading.unit)


def all_channels() -> list[ch.Channel]:
    unique = {(c.key, c.layout): c for slot_list in LAYOUTS.values() for c in (s.channel for s in slot_list)}
    return [*unique.values(), *ch.ATTRIBUTES]


@st.composite
def channel_values(draw: st.DrawFn) -> tuple[ch.Channel, dict[str, float]]:
    channel = draw(st.sampled_from(all_channels()))
    values = {}
    for part in channel.values:
        low, high = part.span
        raw = draw(st.integers(round(low * part.divisor), round(high * part.divisor)))
        values[part.name] = raw / part.divisor
    return channel, values


@settings(max_examples=400, deadline=None)
@given(case=channel_values())
def test_every_channel_packs_and_unpacks_to_the_same_values(case: tuple[ch.Channel, dict[str, float]]) -> None:
    channel, values = case
    record = channel.record(values)
    assert record[:2] == bytes(channel.key)
    assert len(record) == 2 + channel.size
    assert channel.unpack(record[2:]) == values


def test_encode_writes_the_vendor_example_layout() -> None:
    payload = CODEC.encode("milesight-iot/em300-th", 85, {"battery": 92, "temperature": 30.8, "humidity": 50.5})
    assert payload == bytes.fromhex("01755c03673401046865")


@pytest.mark.parametrize(
    ("model", "values", "reason"),
    [
        ("milesight-iot/em300-th", {"co2": 400}, "cannot encode co2; it encodes battery, humidity, temperature"),
        ("milesight-iot/em300-th", {"temperature": 4000.0}, "temperature 4000 does not fit channel 0x03 0x67"),
        ("milesight-iot/em300-th", {"humidity": math.nan}, "humidity nan does not fit channel 0x04 0x68"),
        (
            "milesight-iot/em310-udl",
            {"distance": -1.0},
            "distance -1 does not fit channel 0x03 0x82 (distance) (uint16)",
        ),
        ("milesight-iot/ws302", {"noise_laeq": 50.0}, "channel 0x05 0x5b (sound level) also needs noise_lamax"),
        ("milesight-iot/ws302", {}, "nothing to encode"),
    ],
)
def test_encode_rejects_what_it_cannot_write(model: str, values: dict[str, float], reason: str) -> None:
    with pytest.raises(CodecError) as caught:
        CODEC.encode(model, 85, values)
    assert reason in caught.value.reason
