"""paho-mqtt 2.x driven by the asyncio loop: socket readiness callbacks, no network thread.

The broker keeps the session (fixed client id, clean start off, session expiry), so messages published
while the service is away wait for it; acknowledgements are manual, sent only once a message is handled.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.sources.mqttclient import LeanClient
from iot_suitcase.ingest.sources.ratelimit import Pace
from iot_suitcase.ingest.tasks import supervised

log = logging.getLogger(__name__)

# a message's (topic, payload, packet id, QoS, DUP, connection generation), as Intake.submit takes them
MessageHandler = Callable[[str, bytes, int, int, bool, int], object]

_MISC_INTERVAL_S = 1.0
_PACKETS_PER_TURN = 100  # ~4 ms of work: committer and drainer get a turn between
_BACKOFF_START_S = 0.25
_BACKOFF_MAX_S = 30.0
_PACE_LOG_EVERY_S = 60.0


class MqttConsumer:
    """Connects, subscribes on every (re)connect, reconnects with backoff, hands messages to a callback."""

    def __init__(
        self,
        settings: IngestSettings,
        topics: Callable[[], list[str]],
        *,
        on_connect: Callable[[int], None] = lambda generation: None,
        on_pong: Callable[[object], None] = lambda token: None,
    ) -> None:
        self._settings = settings
        self._topics = topics  # asked on every connect: device models the registry added bring their topics
        self._on_message: MessageHandler = _unset  # deliver_to
        self._on_connect = on_connect
        self._on_pong = on_pong
        self._loop: asyncio.AbstractEventLoop  # the loop ``run`` runs on; paho's callbacks come back to it
        self._loop_thread = 0
        self._lost = asyncio.Event()
        self._connected = asyncio.Event()
        self._reading = True
        self._paused = False  # over the intake quota: reading waits, the broker keeps what comes
        self._pace = None if settings.mqtt_rate_per_s is None else Pace(settings.mqtt_rate_per_s)
        self._turn_messages = 0
        self._pace_logged = -_PACE_LOG_EVERY_S
        self._read_again_pending = False
        self._sock: socket.socket | None = None
        self.generation = 0  # bumped per connection: an ack belongs to the connection that got the message
        self._acks: list[int] = []
        self._acks_generation = 0
        self._client = self._make_client()

    @property
    def throttled_s(self) -> float:
        """How long reading has waited for the intake quota (``SUITCASE_MQTT_RATE_PER_S``) in all."""
        return 0.0 if self._pace is None else self._pace.paused_s

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _make_client(self) -> LeanClient:
        client = LeanClient(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self._settings.mqtt_client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
            manual_ack=True,
        )
        client.max_queued_messages_set(0)
        if self._settings.mqtt_tls_ca is not None:
            client.tls_set(
                ca_certs=str(self._settings.mqtt_tls_ca),
                certfile=str(self._settings.mqtt_tls_cert) if self._settings.mqtt_tls_cert else None,
                keyfile=str(self._settings.mqtt_tls_key) if self._settings.mqtt_tls_key else None,
            )
        if self._settings.mqtt_username:
            password = self._settings.mqtt_password.get_secret_value() if self._settings.mqtt_password else None
            client.username_pw_set(self._settings.mqtt_username, password)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        client.on_publish_parts = self._handle_publish
        client.on_socket_open = self._socket_open
        client.on_socket_close = self._socket_close
        client.on_socket_register_write = self._register_write
        client.on_socket_unregister_write = self._unregister_write
        client.on_pingresp = self._handle_pong
        return client

    # --- socket plumbing: paho tells us which socket to watch, the event loop calls paho back ------------
    def _on_loop(self, action: Callable[[], object]) -> None:
        if threading.get_ident() == self._loop_thread:
            action()
        else:
            self._loop.call_soon_threadsafe(action)

    def _socket_open(self, client: paho.Client, _userdata: Any, sock: Any) -> None:
        self._sock = sock
        self._on_loop(partial(self._watch_reads, sock))

    def _watch_reads(self, sock: socket.socket) -> None:
        if self._reading and not self._paused and sock is self._sock:
            self._loop.add_reader(sock, self._read)

    def _read(self) -> None:
        if not self._reading or self._paused:
            return  # stop_reading() or the quota came between a turn and the next
        try:
            self._read_turn()
        finally:
            if self._pace is not None:
                self._keep_pace()
            # Bytes already read into the client's buffer, or already decrypted inside the SSL object, do
            # not make the socket readable again: after a full turn (or a callback that raised), read on at
            # the next turn. One continuation at a time, or they would multiply every turn.
            if self._reading and not self._paused and self._unread() and not self._read_again_pending:
                self._read_again_pending = True
                self._loop.call_soon(self._read_again)

    def _read_turn(self) -> None:
        """Read, then go on with what is buffered, but give the committer and the drainer a turn every so
        many packets (the buffer refills from the socket as it empties)."""
        client, sock = self._client, self._sock
        client.loop_read()
        # within the intake quota, a turn reads no more than it allows: a pause then stays short (a second at
        # most), well within the keepalive, whose ping answer waits unread meanwhile
        packets = _PACKETS_PER_TURN if self._pace is None else min(_PACKETS_PER_TURN, self._pace.available() - 1)
        while packets > 0:
            if sock is not self._sock or not self._unread():
                return
            taken = client.read_buffered(packets)
            packets -= taken
            if packets > 0 and taken == 0:  # another packet, or one not all read yet: paho's reader
                client.loop_read()
                packets -= 1

    def _keep_pace(self) -> None:
        """Over the quota, stop reading for as long as it takes to be within it again. Unread messages stay in
        the broker (beyond the Receive Maximum it does not even send them), acks and pings still go out."""
        assert self._pace is not None
        wait = self._pace.take(self._turn_messages)
        self._turn_messages = 0
        if wait <= 0:
            return
        self._paused = True
        if self._sock is not None:
            self._loop.remove_reader(self._sock)
        self._loop.call_later(wait, self._resume)
        now = self._loop.time()
        if now - self._pace_logged >= _PACE_LOG_EVERY_S:
            self._pace_logged = now
            log.warning(
                "intake over its quota: reading more slowly, the broker keeps the rest queued rate_per_s=%s "
                "throttled_s=%.1f",
                self._settings.mqtt_rate_per_s,
                self.throttled_s,
            )

    def _resume(self) -> None:
        self._paused = False
        if self._reading and self._sock is not None:
            self._loop.add_reader(self._sock, self._read)
            self._read()  # what the client has buffered does not make the socket readable

    def _unread(self) -> bool:
        sock = self._sock
        return self._client.buffered() or (isinstance(sock, ssl.SSLSocket) and sock.pending() > 0)

    def _read_again(self) -> None:
        self._read_again_pending = False
        self._read()

    def _socket_close(self, client: paho.Client, _userdata: Any, sock: Any) -> None:
        self._on_loop(partial(self._forget_socket, sock))

    def _forget_socket(self, sock: socket.socket) -> None:
        self._loop.remove_reader(sock)
        self._loop.remove_writer(sock)

    def _register_write(self, client: paho.Client, _userdata: Any, sock: Any) -> None:
        self._on_loop(partial(self._loop.add_writer, sock, self._client.loop_write))

    def _unregister_write(self, client: paho.Client, _userdata: Any, sock: Any) -> None:
        self._on_loop(partial(self._loop.remove_writer, sock))

    # --- protocol callbacks (always on the loop thread: they run inside loop_read) ------------------------
    def _handle_connect(
        self, client: paho.Client, _userdata: Any, flags: paho.ConnectFlags, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection reason=%s", reason)
            self._lost.set()
            return
        self.generation += 1
        self._on_connect(self.generation)
        # Retained messages only when the subscription is new: a reconnect that finds its session would
        # otherwise take every retained message in again, as a new message with a new receive time.
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        share = self._settings.mqtt_share_group
        topics = [f"$share/{share}/{topic}" if share else topic for topic in self._topics()]
        client.subscribe([(topic, options) for topic in topics])
        if share:  # a session that ran as one process (`--workers 1`) before keeps its plain subscription: drop
            client.unsubscribe(self._topics())  # it, or every message would come twice (queued ones still come)
        log.info(
            "connected to broker host=%s port=%s session_present=%s topics=%s",
            self._settings.mqtt_host,
            self._settings.service_port,
            flags.session_present,
            ",".join(topics),
        )
        self._connected.set()

    def _handle_disconnect(
        self, client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if self._connected.is_set():
            log.warning("lost the broker connection reason=%s", reason)
        self._connected.clear()
        self._lost.set()

    def _handle_message(self, client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        payload = message.payload if isinstance(message.payload, bytes) else bytes(message.payload)
        self._turn_messages += 1
        self._on_message(message.topic, payload, message.mid, message.qos, bool(message.dup), self.generation)

    def _handle_publish(self, topic: str, payload: bytes, mid: int, dup: bool) -> None:
        """A QoS 1 PUBLISH the client's read path took apart (mqttclient.py): the same hand-over."""
        self._turn_messages += 1
        self._on_message(topic, payload, mid, 1, dup, self.generation)

    def _handle_pong(self, token: object) -> None:
        self._on_pong(token)

    # --- public API ---------------------------------------------------------------------------------------
    def deliver_to(self, on_message: MessageHandler) -> None:
        """Where messages go, called per message (``Intake.submit``); set before ``run``. Not a constructor
        argument: the pipeline that takes them acknowledges them through this consumer, so it comes after."""
        self._on_message = on_message

    def ack(self, mid: int, qos: int, generation: int) -> None:
        """PUBACK a message, unless it came over an earlier connection (the broker will redeliver it).

        Acks wait in arrival order until ``flush_acks`` sends them together (the committer calls it after
        each group).
        """
        if qos > 0 and generation == self.generation and self._connected.is_set():
            if generation != self._acks_generation:
                self._acks.clear()  # waiting acks of an earlier connection: the broker redelivers those
            self._acks_generation = generation
            if qos == 1:
                self._acks.append(mid)
            else:  # QoS 2 (only from a broker that ignores the subscription's QoS 1): PUBCOMP, still in order
                self.flush_acks()
                self._client.ack(mid, qos)

    def flush_acks(self) -> None:
        """Send the waiting acks in one write, if the connection they belong to is still up."""
        mids, self._acks = self._acks, []
        if mids and self._acks_generation == self.generation and self._connected.is_set():
            self._client.ack_many(mids)

    def ping(self, token: object) -> None:
        """A PINGREQ after the acks sent so far; its PINGRESP brings ``token`` back to ``on_pong``."""
        if self._connected.is_set():
            self._client.ping(token)

    def stop_reading(self) -> None:
        """Take no more messages (shutdown): acks can still go out."""
        self._reading = False
        if self._sock is not None:
            self._loop.remove_reader(self._sock)

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def run(self, stop: asyncio.Event) -> None:
        """Keep a connection up until ``stop`` is set; then disconnect cleanly."""
        if self._on_message is _unset:
            raise RuntimeError(_UNSET)
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        failed: list[BaseException | None] = []
        misc = supervised(self._misc_loop(), "mqtt keepalive", lambda _why, error: failed.append(error))
        misc.add_done_callback(lambda _task: self._lost.set())
        backoff = _BACKOFF_START_S
        try:
            while not stop.is_set():
                if failed:  # the keepalive loop died: this consumer cannot keep a connection, say so
                    raise RuntimeError("the MQTT keepalive loop ended") from failed[0]
                self._lost.clear()
                try:
                    await self._loop.run_in_executor(None, self._connect)
                except OSError as error:
                    log.warning(
                        "broker unreachable host=%s port=%s error=%r",
                        self._settings.mqtt_host,
                        self._settings.service_port,
                        error,
                    )
                else:
                    await _first(stop.wait(), self._lost.wait())
                    if self._connected.is_set() or stop.is_set():
                        backoff = _BACKOFF_START_S
                if stop.is_set():
                    break
                delay = backoff * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not cryptography
                log.info("reconnecting in %.2f s", delay)
                await _first(stop.wait(), asyncio.sleep(delay))
                backoff = min(backoff * 2, _BACKOFF_MAX_S)
        finally:
            misc.cancel()
            await self._disconnect()

    def _connect(self) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._settings.mqtt_session_expiry_s
        properties.ReceiveMaximum = self._settings.mqtt_receive_maximum
        self._client.connect(
            self._settings.mqtt_host,
            self._settings.service_port,
            keepalive=self._settings.mqtt_keepalive_s,
            clean_start=False,
            properties=properties,
        )

    async def _misc_loop(self) -> None:
        while True:
            await asyncio.sleep(_MISC_INTERVAL_S)
            self._client.loop_misc()

    async def _disconnect(self) -> None:
        if self._client.is_connected():
            self._client.disconnect()
            for _ in range(20):  # let the DISCONNECT packet reach the socket
                if self._sock is None or not self._client.want_write():
                    break
                await asyncio.sleep(0.05)
        self._connected.clear()


def _unset(topic: str, payload: bytes, mid: int, qos: int, dup: bool, generation: int) -> None:  # noqa: PLR0917
    raise RuntimeError(_UNSET)


_UNSET = "MqttConsumer.deliver_to was not called: messages would have nowhere to go"


async def _first(*awaitables: Any) -> None:
    """Wait until the first of several awaitables finishes; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
