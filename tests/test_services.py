"""The server wrappers in iot_suitcase.servers start real servers that survive what the other tests do to them."""

from __future__ import annotations

import queue
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from iot_suitcase.servers import (
    InfluxDB,
    ManagedProcess,
    Mosquitto,
    QueryError,
    ServiceError,
    VictoriaMetrics,
    free_port,
    port_is_listening,
)


def connect(broker: Mosquitto, client_id: str) -> tuple[paho.Client, queue.Queue[paho.MQTTMessage], bool]:
    """A connected MQTT v5 client, the queue its messages land in, and whether the broker had its session.

    Always clean_start=False: Mosquitto 2.0.11 does not write a session opened with clean_start=True
    to its persistence file, even with a session expiry interval, so it would not survive a restart.
    """
    received: queue.Queue[paho.MQTTMessage] = queue.Queue()
    session_present: queue.Queue[bool] = queue.Queue()
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )
    client.on_message = lambda _c, _u, message: received.put(message)
    client.on_connect = lambda _c, _u, flags, _reason, _p: session_present.put(flags.session_present)
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 3600  # keep the session (and its queue) while disconnected
    client.connect(broker.host, broker.port, clean_start=False, properties=properties)
    client.loop_start()
    return client, received, session_present.get(timeout=5)


def disconnect(client: paho.Client) -> None:
    client.disconnect()
    client.loop_stop()


def is_alive(pid: int) -> bool:
    """True unless the process is gone or a zombie (a container's init may never reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_free_ports_differ_and_are_not_listening() -> None:
    ports = {free_port() for _ in range(20)}
    assert len(ports) == 20
    assert not any(port_is_listening("127.0.0.1", port) for port in ports)


def test_mosquitto_starts_and_accepts_mqtt(mosquitto: Mosquitto) -> None:
    assert mosquitto.running
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    client, received, _ = connect(mosquitto, f"t-{uuid.uuid4().hex}")
    try:
        client.subscribe("svc/echo", qos=1)
        time.sleep(0.1)
        client.publish("svc/echo", b"ping", qos=1).wait_for_publish(5)
        assert received.get(timeout=5).payload == b"ping"
    finally:
        disconnect(client)


def test_mosquitto_keeps_queued_qos1_and_retained_messages_across_restart(
    mosquitto_factory: Callable[..., Mosquitto],
) -> None:
    broker = mosquitto_factory()
    port = broker.port
    subscriber, _, _ = connect(broker, "slow-consumer")
    subscriber.subscribe("svc/queued", qos=1)
    time.sleep(0.1)
    disconnect(subscriber)

    publisher, _, _ = connect(broker, "publisher")
    publisher.publish("svc/queued", b"while you were away", qos=1).wait_for_publish(5)
    publisher.publish("svc/retained", b"last known value", qos=1, retain=True).wait_for_publish(5)
    disconnect(publisher)

    broker.restart()
    assert broker.port == port

    subscriber, received, session_present = connect(broker, "slow-consumer")
    try:
        assert session_present
        assert received.get(timeout=5).payload == b"while you were away"
        subscriber.subscribe("svc/retained", qos=1)
        retained = received.get(timeout=5)
        assert (retained.payload, retained.retain) == (b"last known value", True)
    finally:
        disconnect(subscriber)


def test_mosquitto_queues_more_than_its_default_limit_for_an_offline_subscriber(mosquitto: Mosquitto) -> None:
    # With Mosquitto's default max_queued_messages (1000) the broker would silently drop the rest.
    topic, subscriber_id, total = f"svc/backlog/{uuid.uuid4().hex}", f"offline-{uuid.uuid4().hex}", 1500
    subscriber, _, _ = connect(mosquitto, subscriber_id)
    subscriber.subscribe(topic, qos=1)
    time.sleep(0.1)
    disconnect(subscriber)

    publisher, _, _ = connect(mosquitto, f"pub-{uuid.uuid4().hex}")
    sent = [publisher.publish(topic, str(n).encode(), qos=1) for n in range(total)]
    for info in sent:
        info.wait_for_publish(10)
    disconnect(publisher)

    subscriber, received, _ = connect(mosquitto, subscriber_id)
    try:
        payloads = [received.get(timeout=5).payload for _ in range(total)]
    finally:
        disconnect(subscriber)
    assert sorted(int(p) for p in payloads) == list(range(total))


def test_mosquitto_kill_and_start_on_the_same_port(mosquitto_factory: Callable[..., Mosquitto]) -> None:
    broker = mosquitto_factory()
    port, old_pid = broker.port, broker.pid
    broker.kill()
    assert not broker.running
    assert not port_is_listening(broker.host, port)
    broker.start()
    assert (broker.port, broker.running) == (port, True)
    assert broker.pid != old_pid
    client, _, _ = connect(broker, "after-crash")  # times out unless the broker answers MQTT
    disconnect(client)


def test_influxdb_create_write_query_drop(influxdb: InfluxDB) -> None:
    name = f"svc_{uuid.uuid4().hex[:8]}"
    influxdb.create_database(name)
    assert name in influxdb.databases()
    influxdb.write(name, ["temperature,device=d1 value=21.5 1700000000123456789", "humidity,device=d1 value=40i 1"])
    assert influxdb.points(name, "temperature") == [{"time": 1700000000123456789, "device": "d1", "value": 21.5}]
    assert influxdb.count(name) == 2
    assert influxdb.count(name, "humidity") == 1
    influxdb.drop_database(name)
    assert name not in influxdb.databases()


def test_influxdb_errors_raise(influxdb: InfluxDB, influx_db: str) -> None:
    with pytest.raises(QueryError, match="error parsing query"):
        influxdb.query("SELEKT 1", influx_db)
    with pytest.raises(QueryError, match="database not found"):
        influxdb.write(f"missing_{uuid.uuid4().hex[:8]}", "m value=1")


def test_influxdb_keeps_acknowledged_points_through_kill_9(influxdb_factory: Callable[..., InfluxDB]) -> None:
    server = influxdb_factory()
    url = server.url
    server.create_database("crash")
    server.write("crash", "m,device=d1 value=1 1700000000000000000")
    server.kill()
    server.start()
    assert server.url == url
    assert server.points("crash", "m") == [{"time": 1700000000000000000, "device": "d1", "value": 1.0}]


def test_victoria_accepts_influx_v2_write_and_exports_it(victoria: VictoriaMetrics) -> None:
    device = f"d-{uuid.uuid4().hex[:8]}"
    victoria.write(f"temperature,device={device} value=21.5 1700000000123456789")
    series = victoria.wait_for_samples(1, f'{{device="{device}"}}')
    # measurement_field as the name, tags as labels, no label for org/bucket, milliseconds.
    assert series == [
        {
            "metric": {"__name__": "temperature_value", "device": device},
            "values": [21.5],
            "timestamps": [1700000000123],
        }
    ]


@pytest.mark.parametrize("service", [Mosquitto, InfluxDB, VictoriaMetrics])
def test_failed_start_raises_with_the_servers_own_log(tmp_path: Path, service: type[ManagedProcess]) -> None:
    # A bound but not listening socket: the pre-start check passes and the server itself fails to bind.
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        server = service(tmp_path, port=blocker.getsockname()[1])
        with pytest.raises(ServiceError, match=r"(?i)address already in use") as failure:
            server.start()
    assert str(server.log_path) in str(failure.value)
    assert not server.running


def test_start_refuses_a_port_someone_listens_on(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        broker = Mosquitto(tmp_path, port=squatter.getsockname()[1])
        with pytest.raises(ServiceError, match="already in use by another process"):
            broker.start()
    assert not broker.running


def test_children_die_with_their_parent(tmp_path: Path) -> None:
    script = (
        "import sys, pathlib\n"
        "from iot_suitcase.servers import Mosquitto\n"
        "broker = Mosquitto(pathlib.Path(sys.argv[1])).start()\n"
        "print(broker.pid, flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line.strip().isdigit(), f"the parent did not start a broker: {line!r}"
    child_pid = int(line)
    assert is_alive(child_pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and is_alive(child_pid):
        time.sleep(0.05)
    assert not is_alive(child_pid)
