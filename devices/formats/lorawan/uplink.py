"""One LoRaWAN uplink, as both network servers describe it, and the readings it becomes.

The order of sources is the same for every network server:

1. the model named for the device in ``FormatContext.device_models`` (by device id, then by DevEUI),
   then the model the network server itself names (The Things Stack ``version_ids``) if it has a codec
   here: decode the raw bytes with this project's codec;
2. otherwise The Things Stack's normalized payload, when it gives a reading (normalized.toml);
3. otherwise the network server's own decoder output: through the model's field map when the model is one
   its network server decodes (a decoders-file model without a script), else through the field table
   (fields.toml);
4. otherwise reject with ``no_codec``.

The best gateway's (highest RSSI) signal becomes ``rssi`` and ``snr`` readings, next to the sensor's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from iot_suitcase.devices import codecs
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.base import Decoded, FormatContext, RawReading
from iot_suitcase.devices.formats.lorawan.fields import mapped_readings, unmapped_names
from iot_suitcase.devices.formats.lorawan.json_access import JsonObject
from iot_suitcase.devices.formats.lorawan.normalized import normalized_readings

_EUI = re.compile(r"[0-9A-Fa-f]{16}")
MODELS_HINT = "name its model in SUITCASE_DEVICE_MODELS_FILE"


def decode_hex_eui(text: str, where: str) -> str:
    """A DevEUI as 16 hex digits, returned lower-case (the form device_models and device ids use)."""
    if not _EUI.fullmatch(text):
        raise DecodeError(RejectCode.INVALID_DEVICE_ID, f"{where}: {text[:40]!r} is not a DevEUI (16 hex digits)")
    return text.lower()


@dataclass(frozen=True, slots=True)
class Reception:
    """How one gateway heard the uplink."""

    rssi: float  # dBm
    snr: float  # dB


@dataclass(frozen=True, slots=True)
class Uplink:
    """An uplink once its network server's envelope is unwrapped."""

    network: str  # for reasons: "ChirpStack", "The Things Stack"
    device_id: str
    dev_eui: str | None
    fport: int
    fcnt: int
    payload: bytes
    decoded: JsonObject | None  # the network server's own decoder output, when it ran one
    receptions: tuple[Reception, ...]
    time: datetime | None
    model_hint: str | None = None  # a model the network server names for the device
    normalized: tuple[JsonObject, ...] = ()  # The Things Stack's normalized measurements, when it has a normalizer
    extras: dict[str, str] = field(default_factory=dict)


def uplink_readings(uplink: Uplink, context: FormatContext) -> Decoded:
    """Readings of the uplink (see the module docstring for the order of sources), radio readings last."""
    model = _configured_model(uplink, context)
    if model is None and uplink.model_hint in codecs.MODELS:
        model = uplink.model_hint
    skipped = 0
    mapped_here = model is not None and codecs.decoded_by_network_server(model)
    normalized = normalized_readings(list(uplink.normalized)) if uplink.normalized else None
    if model is not None and not mapped_here:
        decoded = _codec_readings(uplink, model)
        readings, skipped = list(decoded), decoded.skipped
        source = f"codec:{model}"
    elif normalized is not None and normalized.readings:
        readings, skipped = normalized.readings, normalized.skipped
        source = "normalized_payload"
    elif model is not None and uplink.decoded is not None:
        decoded = codecs.map_decoded(model, uplink.decoded.data)
        readings, skipped = list(decoded), decoded.skipped
        source = f"fields:{model}"
    elif model is not None:
        decoded = _codec_readings(uplink, model)
        readings, skipped = list(decoded), decoded.skipped
        source = f"codec:{model}"
    elif uplink.decoded is not None:
        readings = mapped_readings(uplink.decoded)
        if not readings:
            raise DecodeError(
                RejectCode.NO_CODEC,
                f"no codec for {_who(uplink)} and none of the fields of {uplink.decoded.path} "
                f"({', '.join(unmapped_names(uplink.decoded)[:12]) or 'none'}) has a known meaning; "
                f"{MODELS_HINT}",
            )
        source = f"decoded:{uplink.decoded.path}"
    elif not uplink.payload:
        raise DecodeError(
            RejectCode.NO_READINGS, f"the uplink of {_who(uplink)} on fPort {uplink.fport} carries no application data"
        )
    else:
        named = ""
        if uplink.model_hint:
            named = f"; {uplink.network} names the model {uplink.model_hint}, which has no codec here"
        raise DecodeError(
            RejectCode.NO_CODEC,
            f"no codec for {_who(uplink)} and {uplink.network} sent no decoded payload{named}; {MODELS_HINT}",
        )
    readings.extend(_radio_readings(uplink.receptions))
    extras = {**uplink.extras, "f_port": str(uplink.fport), "f_cnt": str(uplink.fcnt), "source": source}
    if uplink.dev_eui is not None:
        extras["dev_eui"] = uplink.dev_eui
    return Decoded(device_id=uplink.device_id, readings=readings, time=uplink.time, extras=extras, skipped=skipped)


def _who(uplink: Uplink) -> str:
    eui = f" (DevEUI {uplink.dev_eui})" if uplink.dev_eui else ""
    return f"device {uplink.device_id!r}{eui}"


def _configured_model(uplink: Uplink, context: FormatContext) -> str | None:
    for key in (uplink.device_id, uplink.device_id.lower(), uplink.dev_eui):
        if key is not None and key in context.device_models:
            return context.device_models[key]
    return None


def _codec_readings(uplink: Uplink, model: str) -> codecs.CodecReadings:
    if not uplink.payload:
        raise DecodeError(
            RejectCode.NO_READINGS,
            f"the uplink of {_who(uplink)} ({model}) on fPort {uplink.fport} carries no application data",
        )
    try:
        return codecs.decode_uplink(model, uplink.fport, uplink.payload)
    except DecodeError:
        raise
    except Exception as error:  # a codec bug is one rejected message, never a stopped service
        raise DecodeError(
            RejectCode.CODEC_ERROR,
            f"the codec of {model} failed on fPort {uplink.fport} payload {uplink.payload.hex()[:64]}: "
            f"{type(error).__name__}: {error}",
        ) from None


def _radio_readings(receptions: tuple[Reception, ...]) -> list[RawReading]:
    if not receptions:
        return []
    best = max(receptions, key=lambda reception: reception.rssi)  # the first of equals
    return [RawReading("rssi", best.rssi, "dBm"), RawReading("snr", best.snr, "dB")]
