"""Each format's encoder is its decoder's inverse: what it writes decodes to the values it was given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.formats import FormatContext, Message
from iot_suitcase.devices.formats.base import Encoded
from iot_suitcase.devices.formats.chirpstack import encoder as chirpstack
from iot_suitcase.devices.formats.lorawan.transmission import Heard, Transmission
from iot_suitcase.devices.formats.native import encoder as native
from iot_suitcase.devices.formats.senml import encoder as senml
from iot_suitcase.devices.formats.sensor_community import encoder as sensor_community
from iot_suitcase.devices.formats.single_value import encoder as single_value
from iot_suitcase.devices.formats.tts import encoder as tts
from iot_suitcase.devices.settings import DecodeSettings

CONTEXT = FormatContext(topic_root="suitcase")
DECODER = Decoder(DecodeSettings())
WHEN = datetime(2026, 11, 30, 8, 15, 0, 250_000, tzinfo=UTC)
CATALOG = load_catalog().quantities


def typical(name: str) -> st.SearchStrategy[float]:
    """A catalog-typical value of the quantity, at the catalog's decimals."""
    decimals = CATALOG[name].decimals
    return st.floats(*CATALOG[name].typical_range).map(lambda value: round(value, decimals))


def values(names: list[str]) -> st.SearchStrategy[dict[str, float]]:
    """Typical values of some of ``names``."""
    return st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({name: typical(name) for name in chosen})
    )


def decoded(message: Encoded) -> dict[str, float]:
    outcome = DECODER.decode_message(Message(message.payload(), WHEN, topic=message.topic))
    return {reading.quantity: reading.value for reading in outcome.readings}


@given(values(sorted(CATALOG)))
def test_native(given_values: dict[str, float]) -> None:
    message = native.encode("kit-1", {q: (v, None) for q, v in given_values.items()}, WHEN, CONTEXT)
    assert decoded(message) == given_values
    assert DECODER.decode_message(Message(message.payload(), WHEN, topic=message.topic)).readings[0].time == WHEN


def test_native_with_units() -> None:
    message = native.encode("kit-1", {"battery_voltage": (3612, "mV"), "temperature": (21.5, None)}, None, CONTEXT)
    assert decoded(message) == {"battery_voltage": 3.612, "temperature": 21.5}


@given(values(sorted(CATALOG)))
def test_senml(given_values: dict[str, float]) -> None:
    got = decoded(senml.encode("kit-1", given_values, WHEN, CONTEXT))
    assert got == pytest.approx(given_values, abs=1e-9)


@given(values(sorted(sensor_community.QUANTITIES)))
def test_sensor_community(given_values: dict[str, float]) -> None:
    message = sensor_community.encode("esp8266-15011808", given_values, CONTEXT, diagnostics={"samples": 600000})
    assert decoded(message) == pytest.approx(given_values, abs=0.006)


@given(st.sampled_from(sorted(CATALOG)), st.data())
def test_single_value(quantity: str, data: st.DataObject) -> None:
    value = data.draw(values([quantity]))[quantity]
    message = single_value.encode("kit-1", quantity, f"{value:.{CATALOG[quantity].decimals}f}", None, CONTEXT)
    assert decoded(message) == {quantity: value}
    assert decoded(single_value.encode("kit-1", "pressure", "101325", "Pa", CONTEXT)) == {"pressure": 1013.25}


# An Elsys ERS frame from the vendor's own examples (devices/codecs/elsys/testdata/ttn-examples.json).
ERS = Transmission(
    device_id="ers-1",
    dev_eui="a81758fffe0312ab",
    dev_addr="26011bda",
    model="elsys/ers",
    fport=1,
    fcnt=7,
    payload=bytes.fromhex("0100E202290400270506"),
    time=WHEN,
    heard=(
        Heard("b827ebfffe6e4a1c", -97, 7.25, 56.15, 10.2, 1234),
        Heard("b827ebfffe6e4a1d", -110, -3.5, 56.16, 10.21, 99, b"\x01\x02\x03\x04"),
    ),
    spreading_factor=8,
    frequency_hz=868_300_000,
)
ERS_READINGS = {"temperature": 22.6, "humidity": 41.0, "illuminance": 39.0, "motion": 6.0, "rssi": -97.0, "snr": 7.25}


@pytest.mark.parametrize(
    "message",
    [
        chirpstack.encode(
            ERS,
            application_id="app-1",
            application_name="sensors",
            tenant_id="t-1",
            tenant_name="city",
            deduplication_id="d-1",
            device_profile_id="p-1",
        ),
        tts.encode(ERS, application_id="sensors", tenant="city"),
    ],
    ids=["chirpstack", "tts"],
)
def test_network_server_envelopes(message: Encoded) -> None:
    decoder = Decoder(DecodeSettings())
    decoder.add_device_models({ERS.dev_eui: ERS.model})  # ChirpStack names no model; the registry does
    outcome = decoder.decode_message(Message(message.payload(), WHEN, topic=message.topic))
    assert outcome.device_id in {ERS.device_id, ERS.dev_eui}
    assert {reading.quantity: reading.value for reading in outcome.readings} == ERS_READINGS
