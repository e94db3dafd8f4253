"""The console and HTTP ingestion over HTTPS (#17 point 6): with the certificate `suitcase init` makes, a client
that trusts the installation's CA gets in by name and address, the health check passes, and a device's HTTP
reading is stored; plain HTTP gets no answer."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from iot_suitcase.certificates import CertificateFiles, make_certificates
from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import IngestProcess, unique, wait_until


def test_the_console_and_http_ingestion_over_https(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    certs = CertificateFiles(tmp_path / "certs")
    make_certificates(certs, ["localhost", "127.0.0.1"])
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "kit-1", "model": "native", "site": "dokk1"}))
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "http_tls_cert": str(certs.console_cert),
        "http_tls_key": str(certs.console_key),
        "credentials_file": str(tmp_path / "credentials.yaml"),
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        url = ingest.http_url
        assert url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(certs.ca_cert))
        for address in (url, url.replace("127.0.0.1", "localhost")):
            with urllib.request.urlopen(f"{address}/healthz", context=trusted, timeout=10) as answer:
                assert answer.status == 200
        with pytest.raises(urllib.error.URLError):  # the system's CAs do not vouch for it
            urllib.request.urlopen(f"{url}/healthz", timeout=10)
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # no plain HTTP on the port
            urllib.request.urlopen(url.replace("https://", "http://") + "/healthz", timeout=10)
        health = subprocess.run(
            [sys.executable, "-m", "iot_suitcase", "health"],
            env={**ingest.env, "SUITCASE_HTTP_PORT": url.rsplit(":", 1)[1]},
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert health.returncode == 0, health.stderr

        credentials = json.loads(
            subprocess.run(
                [sys.executable, "-m", "iot_suitcase", "devices", "credentials", "kit-1", "--json"],
                cwd=tmp_path,
                env={**os.environ, **ingest.env, "SUITCASE_MQTT_PASSWORD": "x" * 24},
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
        )
        request = urllib.request.Request(
            f"{url}/v1/devices/kit-1/readings",
            data=b'{"readings": {"temperature": 18.5}}',
            headers={"X-API-Key": credentials["api_key"], "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, context=trusted, timeout=10) as answer:
            assert answer.status in (200, 202)
        wait_until(lambda: bool(influxdb.points(influx_db, "temperature")), 20, "the reading sent over HTTPS")
    finally:
        ingest.terminate()
