"""The Things Stack v3 uplinks: ``v3/<application id>[@<tenant id>]/devices/<device id>/up`` (a bridge from
its MQTT server) or ``tts/<integration>/up`` (its MQTT Pub/Sub integration), JSON.

The payload is the JSON of ``ttn.lorawan.v3.ApplicationUp`` carrying an ``uplink_message`` (The Things
Stack documentation, Reference > Data Formats > Uplink Messages). See README.md for the device-id rule,
the reading time and where the readings come from.
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

TOPIC_FILTER = "v3/+/devices/+/up"
_LEVELS = TOPIC_FILTER.split("/")
# A Pub/Sub integration publishes every uplink of an application on one topic, its base topic joined with the
# uplink message's sub-topic: `suitcase integrations add tts NAME` gives it `tts/NAME` and `up`.
PUBSUB_TOPIC_FILTER = "tts/+/up"
_MAX_FPORT = 255
_MAX_FCNT = 2**32 - 1


def topic_ids(topic: str) -> tuple[str, str] | None:
    """(application id without the tenant, device id) of an uplink topic, or None for any other topic."""
    levels = topic.split("/")
    if len(levels) != len(_LEVELS):
        return None
    if any(want not in ("+", got) for want, got in zip(_LEVELS, levels, strict=True)):
        return None
    application_id = levels[1].split("@", 1)[0]
    return application_id, levels[3]


def pubsub_topic(integration: str) -> str:
    """The one topic a Pub/Sub integration named so publishes its uplinks on."""
    return PUBSUB_TOPIC_FILTER.replace("+", integration)


def _is_pubsub_topic(topic: str) -> bool:
    levels = topic.split("/")
    return len(levels) == 3 and levels[0] == "tts" and levels[2] == "up" and bool(levels[1])


class TheThingsStackFormat:
    """Uplink messages of The Things Stack (TTN, TTI Cloud, open source), from a bridge of its MQTT server or
    from its MQTT Pub/Sub integration. On a Pub/Sub topic the device id comes from the message alone: the
    integration's broker account may publish for every device of its application, and only there."""

    name = "tts"
    summary = (
        "The Things Stack v3 uplinks (JSON) on v3/<application id>[@<tenant>]/devices/<device id>/up "
        "or tts/<integration>/up"
    )
    content_types: tuple[str, ...] = ()

    def topic_filters(self, context: FormatContext) -> list[str]:
        return [context.network_prefix + TOPIC_FILTER, context.network_prefix + PUBSUB_TOPIC_FILTER]

    def matches_topic(self, topic: str, context: FormatContext) -> bool:
        own = context.network_topic(topic) or ""
        return topic_ids(own) is not None or _is_pubsub_topic(own)

    def sniff(self, payload: bytes) -> bool:
        return payload.lstrip()[:1] == b"{" and b'"end_device_ids"' in payload and b'"uplink_message"' in payload

    def decode(self, message: Message, context: FormatContext) -> Decoded:
        ids = None if message.topic is None else topic_ids(context.network_topic(message.topic) or "")
        topic_device = None if ids is None else check_device_id(ids[1])
        up = parse_object(message.payload, "a The Things Stack uplink message")
        end_device = up.require_object("end_device_ids", "every The Things Stack message names its device")
        device_id = check_device_id(end_device.require_string("device_id", "every end device has an id"))
        try:
            _check_topic(ids, topic_device, device_id, end_device)
            return uplink_readings(_uplink(up, end_device, device_id), context)
        except DecodeError as error:
            error.device_id = error.device_id or device_id
            raise


def _check_topic(ids: tuple[str, str] | None, topic_device: str | None, device_id: str, end_device: JsonObject) -> None:
    if ids is None:
        return
    if topic_device != device_id:
        raise DecodeError(
            RejectCode.DEVICE_MISMATCH,
            f"end_device_ids.device_id is {device_id!r} but the topic names device {topic_device!r}",
        )
    application_id = _application_id(end_device)
    if application_id and application_id != ids[0]:
        raise DecodeError(
            RejectCode.DEVICE_MISMATCH,
            f"end_device_ids.application_ids.application_id is {application_id!r} "
            f"but the topic names application {ids[0]!r}",
        )


def _uplink(up: JsonObject, end_device: JsonObject, device_id: str) -> Uplink:
    message = up.require_object(
        "uplink_message", "only uplink messages (topic .../up) are decoded, not joins or downlink events"
    )
    raw_eui = end_device.string("dev_eui")
    dev_eui = None if not raw_eui else decode_hex_eui(raw_eui, end_device.where("dev_eui"))
    # The Network Server's receive time: server-clocked, unlike a gateway's; else the Application Server's.
    time = message.string("received_at") or up.string("received_at")
    extras = {"network_server": "tts"}
    application_id = _application_id(end_device)
    if application_id:
        extras["application_id"] = application_id
    return Uplink(
        network="The Things Stack",
        device_id=device_id,
        dev_eui=dev_eui,
        fport=message.integer("f_port", 0, _MAX_FPORT),
        fcnt=message.integer("f_cnt", 0, _MAX_FCNT),
        payload=message.base64_bytes("frm_payload"),
        decoded=message.object("decoded_payload"),
        normalized=tuple(message.objects("normalized_payload")),
        receptions=tuple(_reception(rx) for rx in message.objects("rx_metadata")),
        time=None if not time else parse_timestamp(time),
        model_hint=_model_hint(message.object("version_ids")),
        extras=extras,
    )


def _application_id(end_device: JsonObject) -> str | None:
    application = end_device.object("application_ids")
    return None if application is None else application.string("application_id")


def _reception(rx: JsonObject) -> Reception:
    rssi = rx.number("rssi")
    if rssi is None:
        rssi = rx.number("channel_rssi")
    return Reception(rssi=rssi or 0.0, snr=rx.number("snr") or 0.0)


def _model_hint(version_ids: JsonObject | None) -> str | None:
    """``brand_id/model_id`` of the device repository entry the device was registered from, if any."""
    if version_ids is None:
        return None
    brand, model = version_ids.string("brand_id"), version_ids.string("model_id")
    return f"{brand}/{model}" if brand and model else None


__all__ = ["PUBSUB_TOPIC_FILTER", "TOPIC_FILTER", "TheThingsStackFormat", "pubsub_topic", "topic_ids"]
