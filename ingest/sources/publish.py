"""The packet nearly every reading arrives in, read straight from the MQTT client's receive buffer.

An MQTT v5 QoS 1 PUBLISH with an empty property section (what Mosquitto sends unless a publisher set
properties) is taken apart here into its topic, payload, packet id and DUP flag: no ``MQTTMessage`` per
message. This module is compiled with the hot path (``iot_suitcase/compiled.py``); ``mqttclient.py``, a
subclass of paho's client, cannot be. ``test_mqttclient.py`` proves the parts equal paho's.
"""

from __future__ import annotations

from typing import Final

PUBLISH: Final = 0x30
QOS_1: Final = 0x02  # QoS bits of a PUBLISH's fixed header
QOS_BITS: Final = 0x06
DUP: Final = 0x08
RETAIN: Final = 0x01

# (end of the packet in the buffer, topic, payload, packet id, DUP)
Parts = tuple[int, str, bytes, int, bool]


def whole_publish(buffer: bytes, start: int) -> tuple[int, int] | None:
    """Where the body of the PUBLISH that begins at ``start`` lies, (first byte, end), if all of it is in
    ``buffer``; None for another packet, one not all here yet, or a malformed remaining length."""
    end = len(buffer)
    if end - start < 2 or buffer[start] & 0xF0 != PUBLISH:
        return None
    length = 0
    position = start + 1
    shift = 0
    while True:  # the remaining length: at most four bytes, seven bits each
        if position >= end:
            return None
        digit = buffer[position]
        position += 1
        length |= (digit & 0x7F) << shift
        if not digit & 0x80:
            break
        shift += 7
        if shift > 21:
            return None  # malformed: paho's reader says so
    if position + length > end:
        return None
    return position, position + length


def take_publish(buffer: bytes, start: int) -> Parts | None:
    """The property-less QoS 1 PUBLISH that begins at ``start``, if all of it is in ``buffer`` and its topic
    is UTF-8; None for anything else (another packet, one not all here yet, a malformed one), which paho's
    reader then reads as it always does."""
    body = whole_publish(buffer, start)
    if body is None:
        return None
    position, packet_end = body
    header = buffer[start]
    # topic length (2), packet id (2), property length (1)
    if (header & QOS_BITS) != QOS_1 or packet_end - position < 5:
        return None
    topic_end = position + 2 + (buffer[position] << 8 | buffer[position + 1])
    if topic_end + 3 > packet_end or buffer[topic_end + 2] != 0:
        return None  # properties present, or too short
    try:
        topic = buffer[position + 2 : topic_end].decode("utf-8")
    except UnicodeDecodeError:
        return None  # paho hands it on as it is, and the topic fails where it is read
    mid = buffer[topic_end] << 8 | buffer[topic_end + 1]
    return packet_end, topic, buffer[topic_end + 3 : packet_end], mid, bool(header & DUP)
