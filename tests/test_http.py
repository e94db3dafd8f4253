"""HTTP ingestion (#5): every status code a device or its firmware can meet, on the real service."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from iot_suitcase.devices.credentials import CredentialStore, IssuedCredentials
from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.console import viewer
from tests.helpers import IngestProcess, unique, wait_until

NATIVE = b'{"readings": {"temperature": 21.5, "humidity": 40}}'
# What the airrohr firmware posts with "send to own API" (values as strings, pressure in Pa).
AIRROHR = json.dumps(
    {
        "esp8266id": "15011808",
        "software_version": "NRZ-2020-133",
        "sensordatavalues": [
            {"value_type": "SDS_P1", "value": "12.40"},
            {"value_type": "SDS_P2", "value": "7.10"},
            {"value_type": "BME280_temperature", "value": "8.52"},
            {"value_type": "BME280_humidity", "value": "81.39"},
            {"value_type": "BME280_pressure", "value": "101325.00"},
            {"value_type": "signal", "value": "-71"},
        ],
    }
).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.fixture
def service(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str):  # type: ignore[no-untyped-def]
    ingest, keys = start_service(tmp_path, mosquitto, influxdb, influx_db, rate_per_s=0.2, burst=3)
    yield ingest, keys
    assert ingest.terminate() == 0


def start_service(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str, *, rate_per_s: float, burst: int
) -> tuple[IngestProcess, dict[str, IssuedCredentials]]:
    registry = RegistryFile(tmp_path / "registry.yaml")
    with registry.edit() as devices:
        devices.add(make_spec({"id": "kit-1", "model": "native", "site": "dokk1"}))
        devices.add(make_spec({"id": "kit-2", "model": "native", "site": "dokk1"}))
        devices.add(make_spec({"id": "esp8266-15011808", "model": "native", "site": "aarhus-c"}))
    store = CredentialStore(tmp_path / "credentials.yaml")
    keys = {device: store.issue(device) for device in ("kit-1", "kit-2", "esp8266-15011808")}
    store.save()
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.05",
        "registry_file": str(tmp_path / "registry.yaml"),
        "unknown_devices": "reject",
        "credentials_file": str(tmp_path / "credentials.yaml"),
        "http_rate_per_s": str(rate_per_s),
        "http_burst": str(burst),
        "max_payload_bytes": "4096",
    }
    return IngestProcess(tmp_path / "ingest.log", settings).start(), keys


def test_http_status_codes(
    service: tuple[IngestProcess, dict[str, IssuedCredentials]], influxdb: InfluxDB, influx_db: str
) -> None:
    ingest, keys = service
    url = f"{ingest.http_url}/v1/devices/kit-1/readings"
    bearer = {"Content-Type": "application/json", "Authorization": f"Bearer {keys['kit-1'].api_key}"}

    assert post(url, NATIVE, bearer) == (202, {"accepted": True})
    wait_until(lambda: influxdb.count(influx_db) >= 2, 20, "the posted readings")
    assert {(p["device"], p["value"]) for p in influxdb.points(influx_db, "temperature")} == {("kit-1", 21.5)}

    status, body = post(url, NATIVE, {**bearer, "Authorization": "Bearer not-the-key"})
    assert (status, body["error"]) == (401, "unauthorized")
    status, body = post(url, NATIVE, {"Content-Type": "application/json"})
    assert (status, body["error"]) == (401, "unauthorized")
    # another device's key and an unknown device get the same answer as a wrong key (#13 point 10):
    # nobody learns which ids exist or whose a key is
    wrong_key = post(url, NATIVE, {**bearer, "Authorization": "Bearer not-the-key"})
    assert post(url, NATIVE, {**bearer, "Authorization": f"Bearer {keys['kit-2'].api_key}"}) == wrong_key
    assert post(f"{ingest.http_url}/v1/devices/kit-404/readings", NATIVE, bearer) == wrong_key
    status, body = post(url, b"{" + b" " * 5000 + b"}", bearer)
    assert (status, body["error"]) == (413, "payload_too_large")
    status, body = post(url, NATIVE, {**bearer, "Content-Type": "text/plain"})
    assert (status, body["error"]) == (415, "unsupported_media_type")
    assert "application/json (native, sensor_community) or application/senml+json (senml)" in str(body["reason"])
    station = "esp8266-15011808"  # its own rate limit: kit-1's burst is spent below
    senml = f'[{{"bn": "{station}:", "n": "temperature", "u": "Cel", "v": 19.5}}]'.encode()
    headers = {"Content-Type": "application/senml+json", "Authorization": f"Bearer {keys[station].api_key}"}
    senml_url = f"{ingest.http_url}/v1/devices/{station}/readings"
    assert post(senml_url, senml, headers) == (202, {"accepted": True}), "SenML goes by its own Content-Type"
    status, body = post(url, b'{"readings": {"humidity": 140}}', bearer)
    assert (status, body["error"]) == (400, "out_of_range"), "a rejected body is a 400 with its reason"
    status, body = post(url, b'{"device": "kit-2", "readings": {"humidity": 40}}', bearer)
    assert (status, body["error"]) == (400, "device_mismatch"), "kit-1's key cannot post readings for kit-2"
    staff = viewer(ingest)
    kept = json.loads(staff.get("/api/rejects?device=kit-1").body)["rejects"]
    # an HTTP message keeps how it came, not an MQTT topic it never had
    assert {(r["reason"], r["topic"]) for r in kept} == {
        ("out_of_range", "POST /v1/devices/kit-1/readings"),
        ("device_mismatch", "POST /v1/devices/kit-1/readings"),
    }

    # kit-2's burst is 3 at 0.2 requests per second: the 4th request in a row is refused
    kit2 = {"Content-Type": "application/json", "X-API-Key": keys["kit-2"].api_key}
    codes = [post(f"{ingest.http_url}/v1/devices/kit-2/readings", NATIVE, kit2)[0] for _ in range(4)]
    assert codes == [202, 202, 202, 429]

    # every refusal is counted and sampled where staff look (#15 point 7); a browser's favicon is not one
    status, body = post(f"{ingest.http_url}/v1/nowhere", NATIVE, bearer)
    assert (status, body["error"]) == (404, "not_found")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{ingest.http_url}/favicon.ico", timeout=15)
    refused = json.loads(staff.get("/api/refused").body)
    assert refused["counts"] == {"401": 5, "404": 1, "413": 1, "415": 1, "429": 1}
    newest = refused["latest"][0]
    assert (newest["status"], newest["path"]) == (404, "/v1/nowhere")
    unknown = next(r for r in refused["latest"] if r["device"] == "kit-404")
    assert (unknown["status"], unknown["what_to_do"].split(":")[0]) == (401, "unknown device or wrong API key")
    assert 'suitcase_http_refused_total{status="401"} 5.0' in staff.get("/metrics").text
    page = staff.get("/").text
    assert "kit-404" in page.split("HTTP requests refused", 1)[1]
    log = ingest.log()
    assert log.count("refused an HTTP request status=401 device=kit-1 ") == 1, "logged once, counted four times"
    assert "refused an HTTP request status=401 device=kit-404 " in log


def test_sensor_community_firmware_post_is_stored_in_canonical_units(
    service: tuple[IngestProcess, dict[str, IssuedCredentials]], influxdb: InfluxDB, influx_db: str
) -> None:
    ingest, keys = service
    device = "esp8266-15011808"
    auth = base64.b64encode(f"{device}:{keys[device].api_key}".encode()).decode()
    headers = {"Content-Type": "application/json", "X-Sensor": device, "X-PIN": "1", "Authorization": f"Basic {auth}"}
    assert post(f"{ingest.http_url}/v1/sensor-community", AIRROHR, headers) == (202, {"accepted": True})
    wait_until(lambda: influxdb.count(influx_db) >= 6, 20, "the station's readings")
    [pressure] = influxdb.points(influx_db, "pressure")
    assert (pressure["device"], pressure["site"], pressure["value"]) == (device, "aarhus-c", 1013.25)
    assert influxdb.points(influx_db, "pm10")[0]["value"] == 12.4
    assert influxdb.points(influx_db, "pm2_5")[0]["value"] == 7.1
    wrong = base64.b64encode(f"{device}:nope".encode()).decode()
    assert (
        post(f"{ingest.http_url}/v1/sensor-community", AIRROHR, {**headers, "Authorization": f"Basic {wrong}"})[0]
        == 401
    )


def test_a_retried_post_with_an_idempotency_key_is_stored_once_and_answered_the_same(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str
) -> None:
    """#13 point 10: a client whose 202 was lost retries; the message is stored once."""
    ingest, keys = start_service(tmp_path, mosquitto, influxdb, influx_db, rate_per_s=100, burst=100)
    url = f"{ingest.http_url}/v1/devices/kit-1/readings"
    headers = {"Content-Type": "application/json", "X-API-Key": keys["kit-1"].api_key, "Idempotency-Key": "m-0001"}
    stamped = b'{"readings": {"co2": 612}}'  # no device time: a second copy would be a second point
    first = post(url, stamped, headers)
    again = post(url, stamped, headers)
    assert first == again == (202, {"accepted": True})
    rejected = post(url, b'{"readings": {"co2": -5}}', {**headers, "Idempotency-Key": "m-0002"})
    assert rejected[0] == 400
    assert post(url, b'{"readings": {"co2": -5}}', {**headers, "Idempotency-Key": "m-0002"}) == rejected
    other = post(url, stamped, {**headers, "Idempotency-Key": "m-0003"})
    assert other == (202, {"accepted": True}), "another key is another message"
    assert post(url, stamped, {**headers, "Idempotency-Key": "has space"})[0] == 400
    wait_until(lambda: influxdb.count(influx_db, "co2") >= 2, 20, "the readings")
    time.sleep(1)
    assert influxdb.count(influx_db, "co2") == 2
    # after a restart (the log drained, the answers in the service's store) a retry is still recognised
    ingest.terminate()
    ingest.start()
    try:
        assert post(f"{ingest.http_url}/v1/devices/kit-1/readings", stamped, headers) == first
        time.sleep(1)
    finally:
        ingest.terminate()
    assert influxdb.count(influx_db, "co2") == 2
