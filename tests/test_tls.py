"""MQTT over TLS: the ingest service with a CA, a client certificate and key, on a real Mosquitto TLS listener."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, unique, wait_until


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(directory: Path) -> None:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, all made by openssl."""
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=suitcase-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=directory,
    )
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={name}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=directory,
        )
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            f"{name}.crt",
            cwd=directory,
        )


def test_ingest_over_tls_with_a_client_certificate(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB, influx_db: str
) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    broker = mosquitto_factory(
        extra_config=(
            f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\nkeyfile {pki / 'server.key'}\n"
            "require_certificate true\n"
        )
    )
    settings = {
        "mqtt_host": "127.0.0.1",
        "mqtt_port": str(broker.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "mqtt_tls_ca": str(pki / "ca.crt"),
        "mqtt_tls_cert": str(pki / "client.crt"),
        "mqtt_tls_key": str(pki / "client.key"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.05",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    publisher = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    publisher.tls_set(ca_certs=str(pki / "ca.crt"), certfile=str(pki / "client.crt"), keyfile=str(pki / "client.key"))
    publisher.connect("127.0.0.1", broker.port)
    publisher.loop_start()
    try:
        infos = [
            publisher.publish(f"suitcase/tls-{n % 5}/up", f'{{"readings": {{"co2": {400 + n}}}}}', qos=1)
            for n in range(200)
        ]
        for info in infos:
            info.wait_for_publish(10)
        wait_until(lambda: influxdb.count(influx_db) >= 200, 30, "200 readings over TLS")
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        assert ingest.terminate() == 0
    assert sorted(p["value"] for p in influxdb.points(influx_db, "co2")) == [float(400 + n) for n in range(200)]

    plain = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    try:
        plain.connect("127.0.0.1", broker.port)
        plain.loop(timeout=2)
        refused = not plain.is_connected()
    except OSError:
        refused = True
    assert refused, "a client without TLS must not get in"
