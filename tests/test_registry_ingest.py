"""The running service uses the registry: tags from it, unknown devices per policy, changes without a restart."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from iot_suitcase.devices.formats.chirpstack import encoder as chirpstack
from iot_suitcase.devices.formats.lorawan.transmission import Heard, Transmission
from iot_suitcase.devices.registry import RegistryFile
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, publish_all, unique, wait_until


def devices_cli(registry: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "devices", *args, "--registry", str(registry)],
        check=True,
        capture_output=True,
        timeout=30,
    )


def start(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, db: str, *, root: str, policy: str
) -> IngestProcess:
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": root,
        "influx_url": influxdb.url,
        "influx_database": db,
        "batch_interval_s": "0.05",
        "registry_file": str(tmp_path / "registry.yaml"),
        "unknown_devices": policy,
    }
    return IngestProcess(tmp_path / "ingest.log", settings).start()


def test_unknown_devices_are_rejected_until_registered_and_tags_come_from_the_registry(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    registry = tmp_path / "registry.yaml"
    devices_cli(
        registry, "add", "kit-1", "--model", "native", "--site", "dokk1", "--kind", "climate", "--tag", "floor=2"
    )
    root = unique("reg")
    ingest = start(tmp_path, mosquitto, influxdb, influx_db, root=root, policy="reject")
    try:
        publish_all(
            mosquitto.host,
            mosquitto.port,
            [
                (f"{root}/kit-1/up", b'{"readings": {"temperature": 20.5}}'),
                (f"{root}/kit-2/up", b'{"readings": {"temperature": 21.5}}'),
            ],
        )
        wait_until(lambda: "code=unknown_device" in ingest.log(), 20, "kit-2 to be rejected as unknown")
        devices_cli(registry, "add", "kit-2", "--model", "native", "--site", "rathaus")
        wait_until(lambda: "registry reloaded devices=2" in ingest.log(), 20, "the registry to be reloaded")
        publish_all(mosquitto.host, mosquitto.port, [(f"{root}/kit-2/up", b'{"readings": {"temperature": 22.5}}')])
        wait_until(lambda: influxdb.count(influx_db) >= 2, 20, "two readings")
    finally:
        assert ingest.terminate() == 0
    points = {(p["device"], p["value"]): p for p in influxdb.points(influx_db, "temperature")}
    assert set(points) == {("kit-1", 20.5), ("kit-2", 22.5)}, "kit-2's first reading was rejected, not stored"
    first = points[("kit-1", 20.5)]
    assert (first["site"], first["kind"], first["model"], first["floor"]) == ("dokk1", "climate", "native", "2")
    assert points[("kit-2", 22.5)]["site"] == "rathaus"
    rejects = influxdb.points(influx_db, "suitcase_rejects")
    assert [(r["device"], r["reason"]) for r in rejects] == [("kit-2", "unknown_device")]


def test_register_policy_puts_strangers_in_quarantine(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    root = unique("quar")
    ingest = start(tmp_path, mosquitto, influxdb, influx_db, root=root, policy="register")
    try:
        publish_all(mosquitto.host, mosquitto.port, [(f"{root}/stranger-7/up", b'{"readings": {"co2": 555}}')])
        wait_until(lambda: influxdb.count(influx_db) >= 1, 20, "the stranger's reading")
        wait_until((tmp_path / "registry.yaml").exists, 20, "the registry file")
    finally:
        assert ingest.terminate() == 0
    [point] = influxdb.points(influx_db, "co2")
    assert (point["device"], point["site"]) == ("stranger-7", "quarantine")
    registered = RegistryFile(tmp_path / "registry.yaml").load().require("stranger-7")
    assert registered.site == "quarantine"


def test_a_device_is_accepted_from_the_moment_its_registration_returns(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    """#15 point 6: no reload window. The first message right after `suitcase devices add` is stored, for a
    native device and for a LoRaWAN device whose codec comes with its registration (by DevEUI)."""
    registry = tmp_path / "registry.yaml"
    root = unique("first")
    ingest = start(tmp_path, mosquitto, influxdb, influx_db, root=root, policy="reject")
    eui = "a81758fffe09f1e2"
    uplink = Transmission(
        device_id="ers-9",
        dev_eui=eui,
        dev_addr="26011bdb",
        model="elsys/ers",
        fport=1,
        fcnt=1,
        payload=bytes.fromhex("0100E202290400270506"),  # Elsys' own ERS example: 22.6 degC, 41 %, 39 lux, 6
        time=datetime.now(UTC),
        heard=(Heard("b827ebfffe6e4a1c", -97, 7.25, 56.15, 10.2, 1),),
        spreading_factor=8,
        frequency_hz=868_100_000,
    )
    event = chirpstack.encode(
        uplink,
        application_id=unique("app-"),
        application_name="sensors",
        tenant_id="t",
        tenant_name="city",
        deduplication_id="d",
        device_profile_id="p",
    )
    try:
        devices_cli(registry, "add", "kit-9", "--model", "native", "--site", "dokk1")
        publish_all(mosquitto.host, mosquitto.port, [(f"{root}/kit-9/up", b'{"readings": {"temperature": 19.5}}')])
        devices_cli(registry, "add", "ers-9", "--model", "elsys/ers", "--site", "dokk1", "--dev-eui", eui)
        publish_all(mosquitto.host, mosquitto.port, [(event.topic, event.payload())])
        wait_until(lambda: influxdb.count(influx_db) >= 2, 20, "both first readings")
    finally:
        assert ingest.terminate() == 0
    assert "code=" not in ingest.log(), "no first message was rejected"
    assert [p["value"] for p in influxdb.points(influx_db, "temperature") if p["device"] == "kit-9"] == [19.5]
    assert [p["value"] for p in influxdb.points(influx_db, "temperature") if p["device"] == "ers-9"] == [22.6]
