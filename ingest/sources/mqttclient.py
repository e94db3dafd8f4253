"""paho's client with a lean read path: buffered socket reads and property-less PUBLISH packets parsed inline.

paho reads every packet with at least three ``recv`` calls (command byte, each length byte, body), builds
an MQTT v5 ``Properties`` object for every PUBLISH, even one without properties, and sends every ack with a
``send`` of its own; at thousands of messages a second that is most of a core. Narrow overrides change
that and nothing else:

- ``_sock_recv`` serves paho's small reads from one large ``recv``; the caller keeps calling ``loop_read``
  while ``buffered()`` says bytes are waiting (the socket will not signal them again).
- ``_packet_read`` takes a QoS 1 PUBLISH whose property section is empty (what Mosquitto sends unless a
  publisher set properties) straight from the buffer when all of it is there, and ``_handle_publish`` one
  that paho read in parts, into the ``MQTTMessage`` paho builds, with ``properties`` None instead of an
  empty ``Properties``; every other packet (QoS 0 and 2, properties present, MQTT 3) takes paho's path.
- ``_handle_on_message`` calls ``on_message`` directly while no per-topic callback was added: paho's
  topic matcher builds a self-referencing closure per message, garbage only the cycle collector frees.
- ``read_buffered`` hands every such PUBLISH already in the buffer to ``on_message`` in one call, instead of
  one ``loop_read`` (and its bookkeeping) per packet; with ``on_publish_parts`` set, as its parts (topic,
  payload, packet id, DUP), taken apart by the compiled ``publish.take_publish``: no ``MQTTMessage`` at all.
- ``ack_many`` queues the PUBACKs of a whole group commit as one write (paho sends one packet per
  ``send`` and asks the event loop to watch for writability once per packet).
- ``ping`` sends a PINGREQ whose PINGRESP is reported (paho's own keepalive pings are told apart), so the
  service learns that the broker has processed its acks (redelivery.py).

``test_mqttclient.py`` proves messages and acks equal paho's with hypothesis; the MQTT tests run on a
real Mosquitto (acks in order, redeliveries with DUP, Receive Maximum, reconnects).
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion

from iot_suitcase.ingest.sources.publish import DUP, QOS_1, QOS_BITS, RETAIN, take_publish, whole_publish

_READ_BYTES = 64 * 1024  # ~600 of the benchmark's messages per recv
_RECEIVED_INFO = paho.MQTTMessageInfo(0)
_PUBACK = struct.Struct("!BBH")  # PUBACK, remaining length 2, packet id: what paho's ack(mid, 1) sends


class LeanClient(paho.Client):
    """``paho.Client`` reading packets from a buffer and property-less QoS 1 PUBLISH packets inline."""

    _buffer = b""
    _offset = 0
    _filtered = False  # whether message_callback_add was ever called
    _pings: deque[object] | None = None  # a token per PINGREQ out (None: paho's keepalive), oldest first
    _ping_token: object = None
    on_pingresp: Callable[[object], None] | None = None
    # read_buffered's receiver of a property-less QoS 1 PUBLISH as (topic, payload, packet id, DUP); None:
    # on_message gets it as an MQTTMessage. Either way every other packet reaches on_message as paho's.
    on_publish_parts: Callable[[str, bytes, int, bool], object] | None = None

    def ping(self, token: object) -> None:
        """Send a PINGREQ now; ``on_pingresp(token)`` is called with its PINGRESP. The broker processes a
        connection's packets in order, so the PINGRESP proves it processed everything sent before."""
        self._ping_token = token
        try:
            self._send_pingreq()
        finally:
            self._ping_token = None

    def _send_pingreq(self) -> MQTTErrorCode:
        rc = super()._send_pingreq()
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
            if self._pings is None:
                self._pings = deque()
            self._pings.append(self._ping_token)
        return rc

    def _handle_pingresp(self) -> MQTTErrorCode:
        rc = super()._handle_pingresp()
        token = self._pings.popleft() if self._pings else None
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and token is not None and self.on_pingresp is not None:
            self.on_pingresp(token)
        return rc

    def buffered(self) -> bool:
        """Whether received bytes wait in the buffer (``loop_read`` again: the socket will not say so)."""
        return self._offset < len(self._buffer)

    def ack_many(self, mids: list[int]) -> None:
        """PUBACK QoS 1 messages (manual acks) in one queued write: the bytes ``ack(mid, 1)`` sends for
        each, in this order."""
        if mids:
            packet = b"".join([_PUBACK.pack(paho.PUBACK, 2, mid) for mid in mids])
            self._packet_queue(paho.PUBACK, packet, 0, 1)

    def message_callback_add(self, sub: str, callback: paho.CallbackOnMessage) -> None:
        self._filtered = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message: paho.MQTTMessage) -> None:
        if self._filtered:
            super()._handle_on_message(message)
            return
        # what paho does when no per-topic callback matches
        with self._callback_mutex:
            on_message = self.on_message
        if on_message:
            with self._in_callback_mutex:
                try:
                    on_message(self, self._userdata, message)
                except Exception as error:
                    self._easy_log(paho.MQTT_LOG_ERR, "Caught exception in on_message: %s", error)
                    if not self.suppress_exceptions:
                        raise

    def _sock_recv(self, bufsize: int) -> bytes:
        offset = self._offset
        buffer = self._buffer
        if offset >= len(buffer):
            # one recv for many packets; an exception (would block, connection lost) leaves the buffer empty
            buffer = self._buffer = super()._sock_recv(max(bufsize, _READ_BYTES))
            offset = 0
            with self._msgtime_mutex:  # keepalive: bytes came in (paho notes this per packet it reads)
                self._last_bytes_received = paho.time_func()
            if not buffer:
                self._offset = 0
                return buffer
        end = offset + bufsize
        self._offset = end
        if offset == 0 and end >= len(buffer):
            return buffer
        return buffer[offset:end]

    def _sock_close(self) -> None:
        # bytes of a closed connection must never be read as the start of the next one; nor its pings answered
        self._buffer = b""
        self._offset = 0
        self._pings = None
        super()._sock_close()

    def _packet_read(self) -> MQTTErrorCode:
        if self._in_packet["command"] == 0 and self._manual_ack and self._protocol == MQTTProtocolVersion.MQTTv5:
            message = self._buffered_publish()
            if message is not None:
                return self._deliver(message)
        return super()._packet_read()

    def read_buffered(self, limit: int) -> int:
        """Hand up to ``limit`` whole property-less QoS 1 PUBLISH packets waiting in the buffer to ``on_message``
        as ``loop_read`` would, one call for them all; how many. Stops at any other packet (``loop_read``
        reads that). paho's callback locks are left out: the client is read on one thread."""
        on_message = self.on_message
        if on_message is None or self._filtered or self._in_packet["command"]:
            return 0
        if not (self._manual_ack and self._protocol == MQTTProtocolVersion.MQTTv5):
            return 0
        if self.on_publish_parts is not None:
            return self._read_parts(self.on_publish_parts, limit)
        taken = 0
        while taken < limit:
            message = self._buffered_publish()
            if message is None:
                break
            message.timestamp = paho.time_func()
            taken += 1
            try:
                on_message(self, self._userdata, message)
            except Exception as error:
                self._easy_log(paho.MQTT_LOG_ERR, "Caught exception in on_message: %s", error)
                if not self.suppress_exceptions:
                    raise
        return taken

    def _read_parts(self, on_publish_parts: Callable[[str, bytes, int, bool], object], limit: int) -> int:
        """``read_buffered`` with ``on_publish_parts``: each PUBLISH handed on as its parts."""
        taken = 0
        while taken < limit:
            parts = take_publish(self._buffer, self._offset)  # the buffer as it is now: a callback may close
            if parts is None:
                break
            self._offset, topic, payload, mid, dup = parts
            taken += 1
            try:
                on_publish_parts(topic, payload, mid, dup)
            except Exception as error:
                self._easy_log(paho.MQTT_LOG_ERR, "Caught exception in on_message: %s", error)
                if not self.suppress_exceptions:
                    raise
        return taken

    def _buffered_publish(self) -> paho.MQTTMessage | None:
        """A whole property-less QoS 1 PUBLISH at the head of the buffer, taken from it; None for anything
        else (another packet, or one not all here yet), which paho then reads as it always does."""
        buffer, start = self._buffer, self._offset
        body = whole_publish(buffer, start)
        if body is None:
            return None
        position, end = body
        message = read_publish(buffer[start], buffer[position:end])
        if message is not None:
            self._offset = end
        return message

    def _handle_publish(self) -> MQTTErrorCode:
        message = None
        if self._manual_ack and self._protocol == MQTTProtocolVersion.MQTTv5:
            message = read_publish(self._in_packet["command"], self._in_packet["packet"])
        if message is None:
            return super()._handle_publish()
        return self._deliver(message)

    def _deliver(self, message: paho.MQTTMessage) -> MQTTErrorCode:
        """Hand a PUBLISH read here to ``on_message``, as paho does with one it read (manual ack: no reply)."""
        message.timestamp = paho.time_func()
        self._handle_on_message(message)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


def read_publish(header: int, packet: bytes | bytearray) -> paho.MQTTMessage | None:
    """An MQTT v5 QoS 1 PUBLISH with an empty property section as paho's message; None for any other."""
    size = len(packet)
    if (header & QOS_BITS) != QOS_1 or size < 5:  # topic length (2), packet id (2), property length (1)
        return None
    topic_end = 2 + int.from_bytes(packet[:2], "big")
    if topic_end + 3 > size or packet[topic_end + 2] != 0:
        return None  # properties present, or too short: paho's reader decides
    # MQTTMessage() would also build an MQTTMessageInfo (a threading.Condition) that only published
    # messages use: every slot is set here instead, ``info`` to one shared, never-used instance
    message = paho.MQTTMessage.__new__(paho.MQTTMessage)
    message.timestamp = 0.0
    message.state = paho.mqtt_ms_invalid
    message.mid = int.from_bytes(packet[topic_end : topic_end + 2], "big")
    message._topic = bytes(packet[2:topic_end])
    message.qos = 1
    message.dup = bool(header & DUP)
    message.retain = bool(header & RETAIN)
    message.payload = bytes(packet[topic_end + 3 :])  # paho's own reader hands out a bytearray
    message.info = _RECEIVED_INFO
    message.properties = None
    return message
