"""Acceptance 1: for every LoRaWAN model, the simulator's encoding path and the platform's decoding agree.

Values from the simulator's own signals, and arbitrary plausible values, go through ``simulators.codecs``
(canonical -> vendor units -> the codec's ``encode``) and come back through the platform's side
(``devices.codecs.decode_uplink`` and the catalog's conversion) as the same canonical values, to within
the resolution of the vendor's field. The envelopes (ChirpStack, The Things Stack) then go through the real
decoder with the device's model known, as the registry makes it known.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.codecs import MODELS, decode_uplink
from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.settings import DecodeSettings
from iot_suitcase.simulators.codecs import encoder, typical
from iot_suitcase.simulators.fleet import FleetSpec, build_fleet
from iot_suitcase.simulators.formats import FORMATS, Report
from iot_suitcase.simulators.model import Topics
from iot_suitcase.simulators.plan import expected_readings
from iot_suitcase.simulators.signals import sample

MODEL_IDS = sorted(MODELS)
EPOCH_2020 = 1_577_836_800
EPOCH_2040 = 2_208_988_800

# Half the coarsest step any vendor's field has for the quantity, in canonical units (Elsys sends whole
# percent of humidity; Milesight ozone is 0.01 ppm = 19.97 ug/m3; Elsys leak wetness is 1/255 of full scale).
HALF_STEP = {
    "temperature": 0.05,
    "external_temperature": 0.05,
    "humidity": 0.5,
    "pressure": 0.05,
    "co2": 0.5,
    "tvoc": 0.5,
    "pm1": 0.5,
    "pm2_5": 0.5,
    "pm4": 0.5,
    "pm10": 0.5,
    "o3": 10.0,
    "noise_laeq": 0.5,
    "noise_lamax": 0.5,
    "illuminance": 0.5,
    "motion": 0.5,
    "occupancy": 0.0,
    "door_openings": 0.5,
    "door_openings_total": 0.5,
    "door_open": 0.0,
    "distance": 0.5,
    "water_leak_level": 0.5,
    "water_leak": 0.0,
    "battery": 0.5,
    "battery_voltage": 0.0005,
}


def plausible(quantity: str) -> st.SearchStrategy[float]:
    """Values a healthy sensor reports: the catalog's typical range (0 or 1 for a state)."""
    found = load_catalog().quantities[quantity]
    low, high = found.typical_range
    return st.sampled_from([low, high]) if found.aggregate == "max" else st.floats(low, high)


def test_the_tables_cover_every_quantity_a_model_reports() -> None:
    reported = {quantity for model in MODELS.values() for quantity in model.quantities}
    assert reported <= set(HALF_STEP)


def check_round_trip(model: str, values: dict[str, float]) -> None:
    catalog = load_catalog()
    uplink = encoder(model).encode(values)
    # the platform's side: its codec registry, then the catalog's conversion and range check
    decoded = {
        raw.quantity: catalog.canonical_value(catalog.quantity(raw.quantity), raw.value, raw.unit)
        for raw in decode_uplink(model, uplink.fport, uplink.payload)
    }
    assert set(decoded) == set(values)
    for quantity, value in values.items():
        step = 10.0 ** -catalog.quantity(quantity).decimals
        nudged = uplink.encoded[quantity]
        assert abs(nudged - value) <= step + 1e-9, (quantity, value, nudged)
        assert decoded[quantity] == pytest.approx(nudged, abs=HALF_STEP[quantity] + 1e-9), (quantity, value)
    assert uplink.canonical() == decoded


@settings(max_examples=400, deadline=None)
@given(
    model=st.sampled_from(MODEL_IDS),
    seed=st.integers(0, 10_000),
    t=st.floats(EPOCH_2020, EPOCH_2040),
    dt=st.floats(1.0, 86_400.0),
)
def test_signal_values_survive_the_codec_of_every_model(model: str, seed: int, t: float, dt: float) -> None:
    [device] = build_fleet(FleetSpec(sites=("viby",), devices_per_site=1, seed=seed, models=(model,)))
    check_round_trip(model, sample(device.context, device.quantities, t, dt))


@st.composite
def plausible_values(draw: st.DrawFn) -> tuple[str, dict[str, float]]:
    model = draw(st.sampled_from(MODEL_IDS))
    return model, {quantity: draw(plausible(quantity)) for quantity in MODELS[model].quantities}


@settings(max_examples=400, deadline=None)
@given(case=plausible_values())
def test_any_plausible_values_survive_the_codec_of_every_model(case: tuple[str, dict[str, float]]) -> None:
    check_round_trip(*case)


def test_every_model_but_the_door_sensor_can_send_a_value_over_range() -> None:
    catalog = load_catalog()
    for model in MODEL_IDS:
        coder = encoder(model)
        if coder.over_range_quantity is None:
            assert model == "dragino/lds02"  # a door state and a 14-bit battery: nothing goes over range
            continue
        uplink = coder.encode_over_range({quantity: typical(quantity) for quantity in MODELS[model].quantities})
        assert uplink is not None
        quantity = coder.over_range_quantity
        assert uplink.canonical()[quantity] > catalog.quantity(quantity).max


@pytest.mark.parametrize("fmt", ["chirpstack", "tts"])
@pytest.mark.parametrize("model", MODEL_IDS)
def test_network_server_envelopes_decode_to_the_expected_readings(model: str, fmt: str) -> None:
    [device] = build_fleet(FleetSpec(sites=("dokk1",), devices_per_site=1, seed=3, models=(model,), formats=(fmt,)))
    assert device.dev_eui is not None
    decoder = Decoder(DecodeSettings(topic_root="sim"))
    decoder.add_device_models({device.id: model, device.dev_eui: model})  # what the registry tells the service
    at_ms = 1_795_000_000_000
    values = sample(device.context, device.quantities, at_ms / 1000, 600.0)
    [draft] = FORMATS[fmt].drafts(Report(device, at_ms, at_ms * 1000, values, 7), Topics(root="sim"))
    received = datetime.fromtimestamp(at_ms / 1000 + 1, UTC)
    outcome = decoder.decode_message(Message(draft.payload(), received, draft.topic))
    assert outcome.device_id == device.id
    got = sorted((r.quantity, r.value, r.time.timestamp()) for r in outcome.readings)
    want = sorted((e.quantity, e.value, (e.time_ns or 0) / 1e9) for e in expected_readings(draft, at_ms * 1_000_000))
    assert got == want
    assert {quantity for quantity, _, _ in got} == {*device.quantities, "rssi", "snr"}
