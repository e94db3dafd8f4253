"""ChirpStack v4 MQTT integration uplinks: ``application/<application id>/device/<DevEUI>/event/up``, JSON.

The payload is the protobuf JSON of ``integration.UplinkEvent`` (chirpstack api/proto/integration/
integration.proto). See README.md for the device-id rule and where the readings come from.
"""

from __future__ import annotations

from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats.base import Decoded, FormatContext, Message
from iot_suitcase.devices.formats.lorawan import (
    JsonObject,
    Reception,
    Uplink,
    decode_hex_eui,
    parse_object,
    uplink_readings,
)
from iot_suitcase.devices.reading import check_device_id
from iot_suitcase.devices.timestamps import parse_timestamp

TOPIC_FILTER = "application/+/device/+/event/up"
_LEVELS = TOPIC_FILTER.split("/")
_MAX_FPORT = 255
_MAX_FCNT = 2**32 - 1
_RSSI_RANGE = (-1000, 1000)


def topic_ids(topic: str) -> tuple[str, str] | None:
    """(application id, DevEUI) of an uplink topic, or None for any other topic."""
    levels = topic.split("/")
    if len(levels) != len(_LEVELS):
        return None
    if any(want not in ("+", got) for want, got in zip(_LEVELS, levels, strict=True)):
        return None
    return levels[1], levels[3]


def device_id_for(device_name: str | None, dev_eui: str) -> str:
    """The ChirpStack device name when it is a valid device id, else ``eui-<DevEUI>``."""
    if device_name:
        try:
            return check_device_id(device_name)
        except DecodeError:
            pass
    return f"eui-{dev_eui}"


class ChirpStackFormat:
    """Uplink events of ChirpStack v4's MQTT integration with the JSON encoding."""

    name = "chirpstack"
    summary = "ChirpStack v4 uplink events (JSON) on application/<application id>/device/<DevEUI>/event/up"
    content_types: tuple[str, ...] = ()

    def topic_filters(self, context: FormatContext) -> list[str]:
        return [context.network_prefix + TOPIC_FILTER]

    def matches_topic(self, topic: str, context: FormatContext) -> bool:
        return topic_ids(context.network_topic(topic) or "") is not None

    def sniff(self, payload: bytes) -> bool:
        return payload.lstrip()[:1] == b"{" and b'"deviceInfo"' in payload

    def decode(self, message: Message, context: FormatContext) -> Decoded:
        ids = None if message.topic is None else topic_ids(context.network_topic(message.topic) or "")
        topic_eui = None if ids is None else decode_hex_eui(ids[1], "topic DevEUI")
        event = parse_object(message.payload, "a ChirpStack v4 uplink event")
        info = _device_info(event)
        dev_eui = decode_hex_eui(info.require_string("devEui", "ChirpStack names every device"), info.where("devEui"))
        device_id = device_id_for(info.string("deviceName"), dev_eui)
        try:
            _check_topic(ids, topic_eui, dev_eui, info)
            return uplink_readings(_uplink(event, info, device_id, dev_eui), context)
        except DecodeError as error:
            error.device_id = error.device_id or device_id
            raise


def _device_info(event: JsonObject) -> JsonObject:
    if event.get("deviceInfo") is None and (event.get("devEUI") is not None or event.get("applicationID") is not None):
        raise DecodeError(
            RejectCode.UNSUPPORTED_VERSION,  # as the README's table of reject codes says
            "a ChirpStack v3 event (devEUI, applicationID, no deviceInfo): only v4 events are read; upgrade the "
            "network server or its integration",
        )
    return event.require_object("deviceInfo", "every ChirpStack v4 event has it")


def _check_topic(ids: tuple[str, str] | None, topic_eui: str | None, dev_eui: str, info: JsonObject) -> None:
    if ids is None:
        return
    if topic_eui != dev_eui:
        raise DecodeError(
            RejectCode.DEVICE_MISMATCH, f"deviceInfo.devEui is {dev_eui} but the topic names DevEUI {ids[1]}"
        )
    application_id = info.string("applicationId")
    if application_id and application_id != ids[0]:
        raise DecodeError(
            RejectCode.DEVICE_MISMATCH,
            f"deviceInfo.applicationId is {application_id!r} but the topic names application {ids[0]!r}",
        )


def _uplink(event: JsonObject, info: JsonObject, device_id: str, dev_eui: str) -> Uplink:
    time = event.string("time")
    extras = {"network_server": "chirpstack"}
    application_id = info.string("applicationId")
    if application_id:
        extras["application_id"] = application_id
    return Uplink(
        network="ChirpStack",
        device_id=device_id,
        dev_eui=dev_eui,
        fport=event.integer("fPort", 0, _MAX_FPORT),
        fcnt=event.integer("fCnt", 0, _MAX_FCNT),
        payload=event.base64_bytes("data"),
        decoded=event.object("object"),
        receptions=tuple(_reception(rx) for rx in event.objects("rxInfo")),
        time=None if not time else parse_timestamp(time),
        extras=extras,
    )


def _reception(rx: JsonObject) -> Reception:
    rssi = rx.integer("rssi", *_RSSI_RANGE)
    return Reception(rssi=float(rssi), snr=rx.number("snr") or 0.0)


__all__ = ["TOPIC_FILTER", "ChirpStackFormat", "device_id_for", "topic_ids"]
