"""A minimal MQTT 3.1.1 QoS 1 publisher on a plain socket: pre-encoded packets, a window of unacked ones.

Why not paho: paho builds every packet in Python under its locks, so a benchmark publisher built on it
measures paho. Here a message is encoded once, before the clock starts, and sent in large writes; the
broker's PUBACKs are counted as they come. Packet ids cycle through 1..65535 and an id is reused only
once its previous message was acknowledged, so fewer than 65,535 messages are ever in flight.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_CONNECT = 0x10
_CONNACK = 0x20
_PUBLISH_QOS1 = 0x32
_PUBACK = 0x40
_DISCONNECT = b"\xe0\x00"
_MAX_ID = 65535
_SEND_CHUNK = 2000  # messages per socket write: large writes, yet acks are read often
_ACK_TIMEOUT_S = 60.0  # the broker answers within milliseconds; this long a silence means it is stuck


class MqttError(RuntimeError):
    """The broker refused the connection or broke the protocol."""


def _remaining_length(length: int) -> bytes:
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | 0x80 if length else byte)
        if not length:
            return bytes(out)


def _string(text: bytes) -> bytes:
    return len(text).to_bytes(2, "big") + text


def connect_packet(client_id: str, *, keepalive_s: int = 0, clean: bool = True) -> bytes:
    """CONNECT for MQTT 3.1.1 (what most devices speak); keepalive 0: no pings needed in a short run."""
    variable = _string(b"MQTT") + bytes([4, 0x02 if clean else 0x00]) + keepalive_s.to_bytes(2, "big")
    body = variable + _string(client_id.encode())
    return bytes([_CONNECT]) + _remaining_length(len(body)) + body


def packet_id(index: int) -> int:
    """The packet id of the ``index``-th message of a connection (1..65535, cycling)."""
    return index % _MAX_ID + 1


def publish_packet(topic: bytes, index: int, payload: bytes, *, v5: bool = False) -> bytes:
    """PUBLISH at QoS 1 carrying the packet id of the ``index``-th message; ``v5``: with an empty property
    section, as a broker sends it to an MQTT v5 subscriber."""
    properties = b"\x00" if v5 else b""
    body = _string(topic) + packet_id(index).to_bytes(2, "big") + properties + payload
    return bytes([_PUBLISH_QOS1]) + _remaining_length(len(body)) + body


@dataclass(slots=True)
class PublishResult:
    """What one connection published: every message counts only once the broker acknowledged it."""

    sent: int
    acked: int
    started: float  # time.monotonic(), system-wide on Linux: comparable across processes
    finished: float

    @property
    def rate(self) -> float:
        return self.acked / max(self.finished - self.started, 1e-9)


class Publisher:
    """One connection to the broker, publishing QoS 1 messages with a bounded window of unacked ones."""

    def __init__(self, host: str, port: int, client_id: str, *, window: int = 10_000) -> None:
        if not 0 < window < _MAX_ID:
            raise ValueError(f"window must be 1..{_MAX_ID - 1}")
        self.window = window
        self._sock = socket.create_connection((host, port), timeout=_ACK_TIMEOUT_S)
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = bytearray()
        self._outstanding = bytearray(_MAX_ID + 1)  # 1 where a packet id waits for its PUBACK
        self.in_flight = 0
        self.acked = 0
        self._sock.sendall(connect_packet(client_id))
        kind, body = self._next_packet(block=True)
        if kind != _CONNACK or len(body) != 2 or body[1] != 0:
            raise MqttError(f"broker refused the connection: packet {kind:#x} {body.hex()}")

    # --- receiving --------------------------------------------------------------------------------
    def _next_packet(self, *, block: bool) -> tuple[int, bytes]:
        """The next whole packet from the broker; (0, b"") if none is there and ``block`` is false.

        The socket stays in blocking mode: with a timeout set, CPython waits for readability before every
        recv, even one flagged MSG_DONTWAIT, which would stall the sending loop.
        """
        while True:
            parsed = self._parse()
            if parsed is not None:
                return parsed
            if block and not select.select([self._sock], [], [], _ACK_TIMEOUT_S)[0]:
                raise MqttError(f"no packet from the broker for {_ACK_TIMEOUT_S:.0f} s ({self.in_flight} in flight)")
            try:
                data = self._sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return 0, b""
            if not data:
                raise MqttError("the broker closed the connection")
            self._buffer += data

    def _parse(self) -> tuple[int, bytes] | None:
        buffer = self._buffer
        length = shift = 0
        position = 1
        while True:
            if position >= len(buffer):
                return None
            byte = buffer[position]
            length += (byte & 0x7F) << shift
            shift += 7
            position += 1
            if not byte & 0x80:
                break
        if position + length > len(buffer):
            return None
        kind = buffer[0] & 0xF0
        body = bytes(buffer[position : position + length])
        del buffer[: position + length]
        return kind, body

    def _take_acks(self, *, block: bool) -> None:
        """Count the PUBACKs that arrived; wait for at least one packet if ``block``."""
        kind, body = self._next_packet(block=block)
        while kind:
            if kind == _PUBACK:
                identifier = int.from_bytes(body[:2], "big")
                if not self._outstanding[identifier]:
                    raise MqttError(f"PUBACK for packet id {identifier}, which is not in flight")
                self._outstanding[identifier] = 0
                self.in_flight -= 1
                self.acked += 1
            kind, body = self._next_packet(block=False)

    # --- sending ----------------------------------------------------------------------------------
    def _send(self, packets: Sequence[bytes], first_index: int) -> int:
        """Send packets while the window and their packet ids allow; return how many went out."""
        room = min(self.window - self.in_flight, len(packets))
        count = 0
        while count < room and not self._outstanding[packet_id(first_index + count)]:
            self._outstanding[packet_id(first_index + count)] = 1
            count += 1
        if count:
            self._sock.sendall(b"".join(packets[:count]))
            self.in_flight += count
        return count

    def publish_all(self, packets: Sequence[bytes], *, timeout: float = 600.0) -> PublishResult:
        """Send pre-encoded packets (``publish_packet(topic, i, payload)`` for i = 0..) as fast as the window
        allows, and wait until the broker acknowledged every one."""
        started = time.monotonic()
        deadline = started + timeout
        sent = 0
        while sent < len(packets):
            if time.monotonic() > deadline:
                raise MqttError(f"timed out: {self.acked} of {len(packets)} acknowledged")
            chunk = packets[sent : sent + _SEND_CHUNK]
            went = self._send(chunk, sent)
            sent += went
            self._take_acks(block=went == 0)
        self.wait_acked(deadline)
        return PublishResult(sent, self.acked, started, time.monotonic())

    def publish_paced(
        self, make: Callable[[int, int], tuple[bytes, bytes]], *, rate: float, count: int, timeout: float = 60.0
    ) -> PublishResult:
        """Publish ``count`` messages at a steady ``rate``; ``make(i, now_ns)`` builds message i's topic and
        payload at the moment it is sent, so it can carry its own publish time."""
        started = time.monotonic()
        sent = 0
        while sent < count:
            due = min(count, int((time.monotonic() - started) * rate) + 1)
            packets = []
            for index in range(sent, due):
                now_ns = time.time_ns()
                topic, payload = make(index, now_ns)
                packets.append(publish_packet(topic, index, payload))
            while packets:
                went = self._send(packets, sent)
                sent += went
                del packets[:went]
                self._take_acks(block=went == 0)
            self._take_acks(block=False)
            pause = started + sent / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        self.wait_acked(time.monotonic() + timeout)
        return PublishResult(sent, self.acked, started, time.monotonic())

    def wait_acked(self, deadline: float) -> None:
        """Until nothing is in flight: every message sent so far is the broker's."""
        while self.in_flight:
            if time.monotonic() > deadline:
                raise MqttError(f"timed out waiting for {self.in_flight} PUBACKs")
            self._take_acks(block=True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.sendall(_DISCONNECT)
        self._sock.close()
