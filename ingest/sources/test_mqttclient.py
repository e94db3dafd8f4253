"""The lean read path equals paho's: the same messages from the same bytes, however the bytes arrive."""

from __future__ import annotations

import gc
import socket

import paho.mqtt.client as paho
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt._packet import decode_publish
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from iot_suitcase.ingest.sources.mqttclient import LeanClient, read_publish
from iot_suitcase.ingest.sources.publish import take_publish

PUBLISH = 0x30


def _properties(expiry: int | None, user: list[tuple[str, str]], content_type: str | None) -> bytes:
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if expiry is not None:
        properties.MessageExpiryInterval = expiry
    if user:
        properties.UserProperty = user
    if content_type is not None:
        properties.ContentType = content_type
    packed: bytes = properties.pack()  # type: ignore[no-untyped-call]
    return packed


mqtt_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00\ufeff"), max_size=6)
properties = st.builds(
    _properties,
    st.none() | st.integers(0, 2**32 - 1),
    st.lists(st.tuples(mqtt_text, mqtt_text), max_size=2),
    st.none() | mqtt_text,
)
# a packet: (qos, dup, retain, topic, packet id, property section, payload)
packets = st.tuples(
    st.sampled_from([0, 1, 1, 1]),
    st.booleans(),
    st.booleans(),
    st.binary(max_size=40) | st.text(max_size=30).map(str.encode),
    st.integers(1, 65535),
    st.just(b"\x00") | properties,
    st.binary(max_size=300),
)


def _body(packet: tuple[int, bool, bool, bytes, int, bytes, bytes]) -> tuple[int, bytes]:
    qos, dup, retain, topic, mid, props, payload = packet
    header = PUBLISH | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    packet_id = mid.to_bytes(2, "big") if qos else b""
    return header, len(topic).to_bytes(2, "big") + topic + packet_id + props + payload


def _frame(header: int, body: bytes) -> bytes:
    length, size = bytearray(), len(body)
    while True:
        size, digit = divmod(size, 128)
        length.append(digit | (0x80 if size else 0))
        if not size:
            return bytes([header]) + bytes(length) + body


def _fields(message: paho.MQTTMessage) -> tuple[object, ...]:
    return (message._topic, message.payload, message.mid, message.qos, message.dup, message.retain)


@settings(max_examples=500)
@given(packets)
def test_read_publish_equals_paho_or_leaves_the_packet_to_paho(
    packet: tuple[int, bool, bool, bytes, int, bytes, bytes],
) -> None:
    header, body = _body(packet)
    theirs = decode_publish(header, body, MQTTProtocolVersion.MQTTv5)
    mine = read_publish(header, body)
    if packet[0] != 1 or packet[5] != b"\x00":
        assert mine is None  # QoS 0, or properties present: paho's reader
        return
    assert mine is not None
    assert mine.properties is None
    assert {slot for slot in paho.MQTTMessage.__slots__ if hasattr(mine, slot)} == set(paho.MQTTMessage.__slots__)
    assert (mine.state, mine.timestamp) == (paho.mqtt_ms_invalid, 0.0)
    assert theirs.properties is not None
    assert theirs.properties.json() == {}  # type: ignore[no-untyped-call]
    assert _fields(mine) == (theirs.topic, theirs.payload, theirs.mid, theirs.qos, theirs.dup, theirs.retain)


@settings(max_examples=500)
@given(packets, st.binary(max_size=5), st.binary(max_size=5))
def test_take_publish_equals_read_publish_where_the_topic_is_utf8(
    packet: tuple[int, bool, bool, bytes, int, bytes, bytes], before: bytes, after: bytes
) -> None:
    header, body = _body(packet)
    framed = _frame(header, body)
    buffer = before + framed + after
    parts = take_publish(buffer, len(before))
    message = read_publish(header, body)
    if message is None:
        assert parts is None
        return
    try:
        topic = message._topic.decode("utf-8")
    except UnicodeDecodeError:
        assert parts is None  # left to paho: its message's topic fails where the service reads it
        return
    assert parts == (len(before) + len(framed), topic, message.payload, message.mid, message.dup)
    for cut in range(len(before), len(before) + len(framed)):
        assert take_publish(buffer[:cut], len(before)) is None  # not all here yet


def test_take_publish_leaves_other_packets_and_malformed_lengths_to_paho() -> None:
    whole = _frame(*_body((1, False, False, b"a/b", 7, b"\x00", b"x")))
    assert take_publish(whole, 0) == (len(whole), "a/b", b"x", 7, False)
    assert take_publish(b"\x40\x02\x00\x07", 0) is None  # a PUBACK
    assert take_publish(b"\x32\xff\xff\xff\xff\x01" + bytes(300), 0) is None  # five length bytes
    assert take_publish(b"\x32", 0) is None
    assert take_publish(whole, len(whole)) is None


def test_read_publish_leaves_short_and_truncated_packets_to_paho() -> None:
    for body in (b"", b"\x00", b"\x00\x01t\x00\x01", b"\x00\x05ab\x00\x01\x00", b"\x00\x01t\x00"):
        assert read_publish(PUBLISH | 0x02, body) is None


def _client(
    kind: type[paho.Client], sock: socket.socket, got: list[tuple[object, ...]], *, parts: bool = False
) -> paho.Client:
    """A client reading ``sock`` into ``got``: every message's fields, or with ``parts`` (a ``LeanClient``
    handing on parts, as the consumer has it) what the parts hold: no retain flag."""
    client = kind(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="t",
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=True,
    )
    client._sock = sock
    if parts:
        assert isinstance(client, LeanClient)
        client.on_message = lambda _client, _userdata, message: got.append(_fields(message)[:5])
        client.on_publish_parts = lambda topic, payload, mid, dup: got.append((topic.encode(), payload, mid, 1, dup))
    else:
        client.on_message = lambda _client, _userdata, message: got.append(_fields(message))
    return client


def _deliver(
    kind: type[paho.Client], stream: bytes, chunks: list[int], *, parts: bool = False
) -> list[tuple[object, ...]]:
    """Feed ``stream`` in chunks of the given sizes and read as the consumer does (while bytes are buffered)."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    got: list[tuple[object, ...]] = []
    client = _client(kind, ours, got, parts=parts)
    sent = 0
    sizes = iter(chunks)
    try:
        while sent < len(stream):
            size = next(sizes, len(stream))
            theirs.sendall(stream[sent : sent + size])
            sent += size
            client.loop_read()
            while isinstance(client, LeanClient) and client.buffered():  # as MqttConsumer._read_turn reads
                if client.read_buffered(3) == 0:
                    client.loop_read()
        for _ in range(len(stream)):  # the rest of what paho (one packet per call) has not read yet
            if client.loop_read() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
    finally:
        ours.close()
        theirs.close()
    return got


@settings(max_examples=150, deadline=None)
@given(st.lists(packets, min_size=1, max_size=30), st.lists(st.integers(1, 700), max_size=40))
def test_lean_client_delivers_what_paho_delivers(
    batch: list[tuple[int, bool, bool, bytes, int, bytes, bytes]], chunks: list[int]
) -> None:
    stream = b"".join(_frame(*_body(packet)) for packet in batch)
    theirs = _deliver(paho.Client, stream, [len(stream)])
    assert _deliver(LeanClient, stream, chunks) == theirs
    assert len(theirs) == len(batch)
    assert _deliver(LeanClient, stream, chunks, parts=True) == [fields[:5] for fields in theirs]


def test_a_closed_connection_leaves_nothing_in_the_buffer() -> None:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    got: list[tuple[object, ...]] = []
    client = _client(LeanClient, ours, got)
    assert isinstance(client, LeanClient)
    first = _frame(*_body((1, False, False, b"a/b", 1, b"\x00", b"x")))
    theirs.sendall(first + first[:4])  # one packet and the start of another
    client.loop_read()
    assert len(got) == 1
    assert client.buffered()
    client._sock_close()
    theirs.close()
    assert not client.buffered()


def _sent(kind: type[paho.Client], mids: list[int], many: bool) -> bytes:
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    client = _client(kind, ours, [])
    try:
        if many:
            assert isinstance(client, LeanClient)
            client.ack_many(mids)
        else:
            for mid in mids:
                client.ack(mid, 1)
        client.loop_write()
        try:
            return theirs.recv(1 << 20)
        except BlockingIOError:
            return b""
    finally:
        ours.close()
        theirs.close()


@given(st.lists(st.integers(1, 65535), max_size=60))
def test_ack_many_sends_the_bytes_of_one_ack_per_message_in_order(mids: list[int]) -> None:
    assert _sent(LeanClient, mids, many=True) == _sent(paho.Client, mids, many=False)


def test_delivery_leaves_no_cyclic_garbage_and_topic_callbacks_still_work() -> None:
    stream = b"".join(_frame(*_body((1, False, False, b"a/b", mid, b"\x00", b"x"))) for mid in range(1, 201))
    gc.collect()
    gc.disable()
    try:
        assert len(_deliver(LeanClient, stream, [])) == 200
        assert gc.collect() < 50  # paho's topic matcher leaves a reference cycle per message
    finally:
        gc.enable()
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    general: list[tuple[object, ...]] = []
    client = _client(LeanClient, ours, general)
    filtered: list[str] = []
    client.message_callback_add("a/#", lambda _client, _userdata, message: filtered.append(message.topic))
    try:
        theirs.sendall(stream[: len(stream) // 200])
        client.loop_read()
    finally:
        ours.close()
        theirs.close()
    assert filtered == ["a/b"]
    assert general == []


def test_the_payload_is_bytes_whichever_reader_assembled_the_packet() -> None:
    header, body = _body((1, False, False, b"t/x/up", 5, b"\x00", b'{"readings": {}}'))
    for packet in (body, bytearray(body)):  # a slice of the read buffer, or paho's own packet buffer
        message = read_publish(header, packet)
        assert message is not None
        assert type(message.payload) is bytes
        assert message.payload == b'{"readings": {}}'
