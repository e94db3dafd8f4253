"""Every payload format the platform accepts, written the way real devices and network servers write it.

A format turns one report (a device's values at one moment) into drafts: topic, JSON body (or bare text)
and the (quantity, value, unit) triples as sent, from which the expected canonical readings follow by the
catalog's own conversion. Faults that live inside a payload (wrong types, unknown quantities) are edits of
a draft; each format says which faults it can carry:

- no timestamps (sensor_community, single_value): no duplicates, late or future messages (a copy would
  be a second reading at a new receive time, not a duplicate);
- single_value: no malformed JSON (it is not JSON) and no unknown quantity (the topic would name a
  quantity the service does not subscribe to: the message would never arrive, so nothing could be counted);
- LoRaWAN (chirpstack, tts): no unknown quantity (a codec only yields catalog quantities).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.formats.base import Encoded, FormatContext, Sent
from iot_suitcase.devices.formats.chirpstack import encoder as chirpstack_encoder
from iot_suitcase.devices.formats.lorawan.fields import load_fields
from iot_suitcase.devices.formats.lorawan.transmission import Heard, Transmission
from iot_suitcase.devices.formats.native import encoder as native_encoder
from iot_suitcase.devices.formats.senml import encoder as senml_encoder
from iot_suitcase.devices.formats.sensor_community import encoder as sensor_community_encoder
from iot_suitcase.devices.formats.single_value import encoder as single_value_encoder
from iot_suitcase.devices.formats.tts import encoder as tts_encoder
from iot_suitcase.simulators import geo
from iot_suitcase.simulators.codecs import above_range, encoder, from_canonical
from iot_suitcase.simulators.model import NATIVE, FaultKind, SimDevice, Topics
from iot_suitcase.simulators.signals import noise
from iot_suitcase.simulators.signals.radio import lora_reception

UNKNOWN_QUANTITY = "uv_index"  # a quantity a newer firmware might send; not in the catalog
_ALL_FAULTS = frozenset(FaultKind)
_NO_TIME_FAULTS = frozenset({FaultKind.DUPLICATE, FaultKind.LATE, FaultKind.FUTURE})


@dataclass(frozen=True, slots=True)
class Report:
    """One device's values at one moment, as a format needs them."""

    device: SimDevice
    at_ms: int  # when it is sent, simulated
    stamp_us: int  # the device time written into it
    values: Mapping[str, float]  # canonical values
    counter: int  # the device's uplink number (LoRaWAN fCnt)


Draft = Encoded  # one message before serialisation, as the format's own encoder made it


def device_time(stamp_us: int) -> datetime:
    return datetime.fromtimestamp(stamp_us // 1_000_000, UTC).replace(microsecond=stamp_us % 1_000_000)


def _number_text(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


def _decimal_comma(text: str) -> str:
    """A number as a Danish locale writes it ("21,5"): not a number to a JSON or C parser."""
    return text.replace(".", ",") if "." in text else f"{text},0"


def _first_string(body: Any, path: Sequence[str | int]) -> Any:
    """A copy of ``body`` with the number at ``path`` turned into its text: a firmware's type mistake."""
    copy = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    last = path[-1]
    target[last] = str(target[last])
    return copy


class Format(Protocol):
    """One payload format as the simulator writes it, and the faults it can carry."""

    name: str
    timestamped: bool
    faults: frozenset[FaultKind]

    def quantities(self, model: str, wanted: Sequence[str]) -> tuple[str, ...]:
        """Of ``wanted``, what a device of ``model`` can send in this format (empty: incompatible)."""
        ...

    def drafts(self, report: Report, topics: Topics) -> list[Draft]: ...

    def over_range(self, report: Report, topics: Topics) -> list[Draft]:
        """The report with one value above its plausible range (in the first draft)."""
        ...

    def wrong_type(self, draft: Draft) -> Draft: ...

    def unknown_quantity(self, draft: Draft) -> Draft: ...


def _replace_first(report: Report) -> Report:
    first = next(iter(report.values))
    return replace(report, values={**report.values, first: above_range(first)})


class Native:
    """``<root>/<device>/up``: {"time", "readings"}; battery voltage in mV as many firmwares send it."""

    name = NATIVE
    timestamped = True
    faults = _ALL_FAULTS

    def quantities(self, model: str, wanted: Sequence[str]) -> tuple[str, ...]:
        return tuple(wanted) if model == NATIVE else ()

    def drafts(self, report: Report, topics: Topics) -> list[Draft]:
        readings: dict[str, tuple[float, str | None]] = {
            quantity: (round(value * 1000.0), "mV") if quantity == "battery_voltage" else (value, None)
            for quantity, value in report.values.items()
        }
        context = FormatContext(topic_root=topics.root)
        return [native_encoder.encode(report.device.id, readings, device_time(report.stamp_us), context)]

    def over_range(self, report: Report, topics: Topics) -> list[Draft]:
        return self.drafts(_replace_first(report), topics)

    def wrong_type(self, draft: Draft) -> Draft:
        first = next(iter(draft.body["readings"]))
        if isinstance(draft.body["readings"][first], dict):
            return replace(draft, body=_first_string(draft.body, ["readings", first, "value"]))
        return replace(draft, body=_first_string(draft.body, ["readings", first]))

    def unknown_quantity(self, draft: Draft) -> Draft:
        body = json.loads(json.dumps(draft.body))
        body["readings"][UNKNOWN_QUANTITY] = 3.0
        return replace(draft, body=body)


class Senml:
    """``<root>/<device>/senml``: a SenML pack with a base name and base time, SenML units where they exist."""

    name = "senml"
    timestamped = True
    faults = _ALL_FAULTS

    def quantities(self, model: str, wanted: Sequence[str]) -> tuple[str, ...]:
        return tuple(wanted) if model == NATIVE else ()

    def drafts(self, report: Report, topics: Topics) -> list[Draft]:
        context = FormatContext(topic_root=topics.root)
        return [senml_encoder.encode(report.device.id, report.values, device_time(report.stamp_us), context)]

    def over_range(self, report: Report, topics: Topics) -> list[Draft]:
        return self.drafts(_replace_first(report), topics)

    def wrong_type(self, draft: Draft) -> Draft:
        return replace(draft, body=_first_string(draft.body, [0, "v"]))

    def unknown_quantity(self, draft: Draft) -> Draft:
        return replace(draft, body=[*draft.body, {"n": UNKNOWN_QUANTITY, "v": 3}])


class SingleValue:
    """``<root>/<device>/<quantity>[/<unit>]``: one bare number per message; pressure in Pa as many sensors send it."""

    name = "single_value"
    timestamped = False
    faults = _ALL_FAULTS - _NO_TIME_FAULTS - {FaultKind.MALFORMED_JSON, FaultKind.UNKNOWN_QUANTITY}

    def quantities(self, model: str, wanted: Sequence[str]) -> tuple[str, ...]:
        return tuple(wanted) if model == NATIVE else ()

    def drafts(self, report: Report, topics: Topics) -> list[Draft]:
        catalog = load_catalog()
        context = FormatContext(topic_root=topics.root)
        drafts = []
        for quantity, value in report.values.items():
            if quantity == "pressure":  # in Pa, as many sensors send it
                drafts.append(
                    single_value_encoder.encode(report.device.id, quantity, str(round(value * 100.0)), "Pa", context)
                )
            else:
                text = _number_text(value, catalog.quantity(quantity).decimals)
                drafts.append(single_value_encoder.encode(report.device.id, quantity, text, None, context))
        return drafts

    def over_range(self, report: Report, topics: Topics) -> list[Draft]:
        return self.drafts(_replace_first(report), topics)

    def wrong_type(self, draft: Draft) -> Draft:
        return replace(draft, body=_decimal_comma(str(draft.body)))

    def unknown_quantity(self, draft: Draft) -> Draft:
        raise ValueError("single_value cannot carry an unknown quantity")


UNKNOWN_VALUE_TYPE = "SCD30_co2"  # a fork's sensor that the platform's table does not know


class SensorCommunity:
    """``<root>/esp8266-<chip>/airrohr``: the airrohr firmware's JSON, every value a string, pressure in Pa."""

    name = "sensor_community"
    timestamped = False
    faults = _ALL_FAULTS - _NO_TIME_FAULTS

    def quantities(self, model: str, wanted: Sequence[str]) -> tuple[str, ...]:
        if model != NATIVE:
            return ()
        chosen = tuple(q for q in wanted if q in sensor_community_encoder.QUANTITIES)
        return (*chosen, "rssi") if chosen and "rssi" not in chosen else chosen

    def drafts(self, report: Report, topics: Topics) -> list[Draft]:
        diagnostics = {
            "samples": 600_000 + report.counter % 10_000,
            "min_micro": 28,
            "max_micro": 20_000 + report.counter % 5_000,
            "interval": 145_000,
        }
        context = FormatContext(topic_root=topics.root)
        return [sensor_community_encoder.encode(report.device.id, report.values, context, diagnostics=diagnostics)]

    def over_range(self, report: Report, topics: Topics) -> list[Draft]:
        return self.drafts(_replace_first(report), topics)

    def wrong_type(self, draft: Draft) -> Draft:
        body = json.loads(json.dumps(draft.body))
        body["sensordatavalues"][0]["value"] = _decimal_comma(body["sensordatavalues"][0]["value"])
        return replace(draft, body=body)

    def unknown_quantity(self, draft: Draft) -> Draft:
        body = json.loads(json.dumps(draft.body))
        body["sensordatavalues"].insert(1, {"value_type": UNKNOWN_VALUE_TYPE, "value": "612"})
        return replace(draft, body=body)


def _hex(*keys: int, digits: int) -> str:
    return f"{noise.mix(*keys):016x}"[:digits]


def _lorawan_uplink(report: Report, *, over_range: bool) -> tuple[bytes, int, list[Sent], bool]:
    """(payload, fport, readings as the codec states them, whether a value is over range)."""
    coder = encoder(report.device.model)
    uplink = coder.encode_over_range(report.values) if over_range else None
    hit = uplink is not None
    if uplink is None:
        uplink = coder.encode(report.values)
    stated = [(q, value, unit) for q, (value, unit) in uplink.stated.items()]
    return uplink.payload, uplink.fport, stated, hit


def _receptions(report: Report) -> list[tuple[geo.Place, float, float]]:
    """(gateway, RSSI, SNR) of every gateway that hears this uplink, strongest first."""
    device = report.device
    heard = []
    for number, gateway, km in geo.gateways_in_reach(device.lat, device.lon):
        rssi, snr = lora_reception(device.context, report.at_ms / 1000.0, km, number)
        heard.append((gateway, rssi, snr))
    heard.sort(key=lambda entry: -entry[1])  # the platform takes the first of the strongest
    return heard


def _radio_sent(heard: list[tuple[geo.Place, float, float]], rssi_override: float | None) -> list[Sent]:
    rssi = heard[0][1] if rssi_override is None else rssi_override
    return [("rssi", rssi, "dBm"), ("snr", heard[0][2], "dB")]


def _transmission(report: Report, *, over_range: bool, context: bool) -> tuple[Transmission, tuple[Sent, ...]]:
    """The uplink as the network server saw it, and the readings it states (the codec's, then the radio's).

    A frame meant to go over range that the codec cannot push there goes with an impossible RSSI instead."""
    device = report.device
    assert device.dev_eui is not None
    payload, fport, stated, hit = _lorawan_uplink(report, over_range=over_range)
    heard = _receptions(report)
    rssi_override = 75.0 if over_range and not hit else None
    keys = (device.context.seed, report.counter)
    receptions = tuple(
        Heard(
            gateway=gateway.name,
            rssi=int(rssi if index or rssi_override is None else rssi_override),
            snr=snr,
            latitude=gateway.lat,
            longitude=gateway.lon,
            token=noise.mix(*keys, index) % 4_294_967_296,
            context=noise.mix(*keys, index).to_bytes(8, "big")[:4] if context else b"",
        )
        for index, (gateway, rssi, snr) in enumerate(heard)
    )
    uplink = Transmission(
        device_id=device.id,
        dev_eui=device.dev_eui,
        dev_addr=_hex(*keys, 3, digits=8),
        model=device.model,
        fport=fport,
        fcnt=report.counter,
        payload=payload,
        time=device_time(report.stamp_us),
        heard=receptions,
        spreading_factor=_spreading_factor(heard[0][1]),
        frequency_hz=868_100_000 + 200_000 * (report.counter % 3),
        tags={"site": device.site},
    )
    return uplink, (*stated, *_radio_sent(heard, rssi_override))


def _spreading_factor(rssi: float) -> int:
    """What ADR would settle on for this signal strength (EU868)."""
    for limit, factor in ((-95.0, 7), (-105.0, 8), (-110.0, 9), (-115.0, 10), (-120.0, 11)):
        if rssi >= limit:
            return factor
    return 12


def _ghost_object(report: Report) -> dict[str, float]:
    """A network-server decoder's output for a device the platform has no model of (field table names)."""
    out: dict[str, float] = {}
    taken: set[str] = set()
    for field in load_fields():
        if field.quantity in report.values and field.quantity not in taken:
            out[field.name] = from_canonical(field.quantity, report.values[field.quantity], field.unit)
            taken.add(field.quantity)
    return out


class ChirpStack:
    """ChirpStack v4 uplink events: raw bytes from the model's codec, the gateways' RSSI and SNR.

    A ghost (a device nobody registered) also carries ``object``, as a ChirpStack device profile with a
    codec would, so the platform can decode it and then refuse it as an unknown device.
    """

    name = "chirpstack"
    timestamped = True
    faults = _ALL_FAULTS - {FaultKind.UNKNOWN_QUANTITY}

    def quantities(self, model: str, wanted: Sequence[str]) -> tuple[str, ...]:
        return () if model == NATIVE else tuple(wanted)

    def drafts(self, report: Report, topics: Topics, *, over_range: bool = False) -> list[Draft]:
        uplink, sent = _transmission(report, over_range=over_range, context=True)
        keys = (report.device.context.seed, report.counter)
        message = chirpstack_encoder.encode(
            uplink,
            application_id=topics.chirpstack_application,
            application_name="suitcase-sim",
            tenant_id=_uuid(noise.text_key("iot-suitcase"), 4),
            tenant_name="iot-suitcase",
            deduplication_id=_uuid(*keys, 1),
            device_profile_id=_uuid(noise.text_key(uplink.model), 2),
            decoded=_ghost_object(report) if report.device.ghost else None,
            sent=sent,
        )
        return [message]

    def over_range(self, report: Report, topics: Topics) -> list[Draft]:
        return self.drafts(report, topics, over_range=True)

    def wrong_type(self, draft: Draft) -> Draft:
        body = json.loads(json.dumps(draft.body))
        body["rxInfo"][0]["rssi"] = f"{body['rxInfo'][0]['rssi']} dBm"  # a bridge that formats numbers
        return replace(draft, body=body)

    def unknown_quantity(self, draft: Draft) -> Draft:
        raise ValueError("a codec yields only catalog quantities")


class TheThingsStack:
    """The Things Stack v3 uplink messages: frm_payload from the model's codec, version_ids naming the model."""

    name = "tts"
    timestamped = True
    faults = _ALL_FAULTS - {FaultKind.UNKNOWN_QUANTITY}

    def quantities(self, model: str, wanted: Sequence[str]) -> tuple[str, ...]:
        return () if model == NATIVE else tuple(wanted)

    def drafts(self, report: Report, topics: Topics, *, over_range: bool = False) -> list[Draft]:
        uplink, sent = _transmission(report, over_range=over_range, context=False)
        return [tts_encoder.encode(uplink, application_id=topics.tts_application, tenant=topics.tts_tenant, sent=sent)]

    def over_range(self, report: Report, topics: Topics) -> list[Draft]:
        return self.drafts(report, topics, over_range=True)

    def wrong_type(self, draft: Draft) -> Draft:
        body = json.loads(json.dumps(draft.body))
        metadata = body["uplink_message"]["rx_metadata"][0]
        metadata["rssi"] = f"{metadata['rssi']} dBm"
        return replace(draft, body=body)

    def unknown_quantity(self, draft: Draft) -> Draft:
        raise ValueError("a codec yields only catalog quantities")


def _uuid(*keys: int) -> str:
    digits = f"{noise.mix(*keys):016x}{noise.mix(*keys, 7):016x}"
    return f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-8{digits[17:20]}-{digits[20:32]}"


FORMATS: dict[str, Format] = {
    fmt.name: fmt for fmt in (Native(), Senml(), SingleValue(), SensorCommunity(), ChirpStack(), TheThingsStack())
}
LORAWAN_FORMATS = ("chirpstack", "tts")
