"""Publishing over MQTT the way a well-behaved device gateway does: QoS 1, its own PUBACKs counted,
a persistent session so what is in flight is sent again after a broker restart.

paho-mqtt 2.x runs its network loop in a thread; ``publish`` only queues. paho keeps unacknowledged
QoS 1 messages and re-sends them (DUP) when it reconnects, and with clean start off and a session expiry
the broker keeps the session too. The publisher stops queueing while too many messages are unacknowledged,
so a slow broker slows the simulator down instead of filling its memory.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

_QOS = 1
_MAX_UNACKED = 5_000


class MqttError(RuntimeError):
    """The broker cannot be reached or refused us; the message says which."""


@dataclass(frozen=True, slots=True)
class MqttOptions:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = ""  # "": suitcase-sim-<pid>
    keepalive_s: int = 30
    session_expiry_s: int = 3600
    max_inflight: int = 100


class MqttPublisher:
    """One MQTT v5 connection for the whole fleet (a gateway or bridge, as in a real installation)."""

    def __init__(self, options: MqttOptions) -> None:
        self.options = options
        self.client_id = options.client_id or f"suitcase-sim-{os.getpid()}"
        self.published = 0
        self.acked = 0
        self.refused = 0  # PUBACK with a failure reason (e.g. not authorized by the broker's ACL)
        self.refusals: dict[str, int] = {}
        self.reconnects = 0
        self._lock = threading.Condition()
        self._connected = threading.Event()
        self._connect_error: str | None = None
        self._client = paho.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self._client.max_queued_messages_set(0)  # unlimited: publish() below bounds what is unacknowledged
        self._client.max_inflight_messages_set(options.max_inflight)
        self._client.reconnect_delay_set(1, 10)
        if options.username is not None:
            self._client.username_pw_set(options.username, options.password)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish

    def connect(self, timeout_s: float = 15.0) -> None:
        """Connect, or raise ``MqttError`` saying why (unreachable, refused, timed out)."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.options.session_expiry_s
        try:
            self._client.connect(
                self.options.host,
                self.options.port,
                keepalive=self.options.keepalive_s,
                clean_start=False,
                properties=properties,
            )
        except OSError as error:
            raise MqttError(
                f"cannot reach the MQTT broker at {self.options.host}:{self.options.port}: {error}"
            ) from None
        self._client.loop_start()
        if not self._connected.wait(timeout_s) or self._connect_error is not None:
            self._client.loop_stop()
            why = self._connect_error or f"no answer within {timeout_s:g} s"
            raise MqttError(f"the MQTT broker at {self.options.host}:{self.options.port} refused us: {why}")

    def _on_connect(self, _client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any) -> None:
        if reason.is_failure:
            self._connect_error = str(reason)
        elif self._connected.is_set():
            self.reconnects += 1
        self._connected.set()

    def _on_disconnect(self, _client: paho.Client, _userdata: Any, _flags: Any, _reason: Any, _props: Any) -> None:
        pass  # paho reconnects by itself and re-sends what was not acknowledged

    def _on_publish(self, _client: paho.Client, _userdata: Any, _mid: int, reason: ReasonCode, _props: Any) -> None:
        with self._lock:
            if reason.is_failure:
                self.refused += 1
                self.refusals[str(reason)] = self.refusals.get(str(reason), 0) + 1
            else:
                self.acked += 1
            self._lock.notify_all()

    @property
    def unacked(self) -> int:
        return self.published - self.acked - self.refused

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one QoS 1 message, first waiting while too many are unacknowledged."""
        with self._lock:
            while self.published - self.acked - self.refused >= _MAX_UNACKED:
                self._lock.wait(0.5)
        info = self._client.publish(topic, payload, qos=_QOS)
        # NO_CONN: paho keeps a QoS 1 message and sends it once it has reconnected.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise MqttError(f"paho refused to publish on {topic!r}: {paho.error_string(info.rc)}")
        with self._lock:
            self.published += 1

    def wait_acked(self, timeout_s: float) -> bool:
        """Wait until the broker acknowledged every message published; False if time ran out."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self.published - self.acked - self.refused > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
