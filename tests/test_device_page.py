"""One device's page (#15 point 3): its values with a day's chart from InfluxDB, its rejects with their raw
payloads, its Grafana dashboard, and connection commands that work when pasted into a shell."""

from __future__ import annotations

import html
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from iot_suitcase.certificates import CertificateFiles, make_certificates
from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.ingest.console.accounts import Accounts, Role
from iot_suitcase.servers import InfluxDB, Mosquitto, free_port
from tests.browser import browser_page, log_in, screenshot
from tests.console import console, form_csrf
from tests.helpers import IngestProcess, publish_all, unique, wait_until

GRAFANA = "https://grafana.example.org"


@pytest.fixture
def service(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str) -> Iterator[IngestProcess]:
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(
            make_spec({"id": "kit-1", "model": "native", "kind": "climate", "site": "dokk1", "interval_s": 300})
        )
        registry.add(make_spec({"id": "ers-1", "model": "elsys/ers", "site": "dokk1", "dev_eui": "a81758fffe0312ab"}))
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.05",
        "unknown_devices": "reject",
        "grafana_public_url": GRAFANA,
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    yield ingest
    ingest.terminate()


def test_a_device_page_shows_values_charts_rejects_and_commands_that_work(
    tmp_path: Path, mosquitto: Mosquitto, service: IngestProcess, influxdb: InfluxDB, influx_db: str
) -> None:
    publish_all(
        mosquitto.host,
        mosquitto.port,
        [
            ("suitcase/kit-1/up", b'{"readings": {"temperature": 20.25, "battery": 64}}'),
            ("suitcase/kit-1/up", b'{"readings": {"temperature": 21.5, "rssi": -97}}'),
            ("suitcase/kit-1/up", b'{"readings": {"humidity": 140}}'),
        ],
    )
    wait_until(lambda: len(influxdb.points(influx_db, "temperature")) == 2, 20, "two temperatures")
    staff = console(service.http_url, tmp_path / "accounts.sqlite3")
    page = staff.get("/devices/kit-1").text
    readings = page.split('id="readings"', 1)[1].split("</table>", 1)[0]
    temperature = readings.split('id="reading-temperature"', 1)[1].split("</tr>", 1)[0]
    assert "Air temperature" in temperature
    assert "21.5 °C" in temperature
    assert '<svg class="spark"' in temperature, "a chart of the day, read back from InfluxDB"
    assert "64 %" in page.split('id="facts"', 1)[1].split("</dl>", 1)[0]
    assert "RSSI -97 dBm" in page
    rejects = page.split('id="rejects"', 1)[1].split("</table>", 1)[0]
    assert "out_of_range" in rejects
    assert '{"readings": {"humidity": 140}}' in html.unescape(rejects), "with its raw payload"
    link = f"{GRAFANA}/d/suitcase-kind-climate?var-device=kit-1"
    assert f'href="{link}"' in page, "its kind's dashboard, showing it"

    command = html.unescape(re.search(r'<pre id="mosquitto-pub">(.*?)</pre>', page, re.S).group(1))  # type: ignore[union-attr]
    command = command.replace("21.5", "23.75")
    assert "-t suitcase/kit-1/up" in command
    subprocess.run(["bash", "-c", command], env={"PASSWORD": secrets.token_hex(8), "PATH": "/usr/bin:/bin"}, check=True)
    wait_until(
        lambda: 23.75 in [p["value"] for p in influxdb.points(influx_db, "temperature")], 20, "the pasted reading"
    )
    curl = html.unescape(re.search(r'<pre id="curl">(.*?)</pre>', page, re.S).group(1))  # type: ignore[union-attr]
    assert f"curl -X POST {service.http_url}/v1/devices/kit-1/readings" in curl

    lorawan = staff.get("/devices/ers-1").text
    assert f'href="{GRAFANA}/d/suitcase-device-health?var-device=ers-1"' in lorawan, "every device: its health"
    assert "a81758fffe0312ab" in lorawan
    assert "network server" in lorawan
    assert 'id="mosquitto-pub"' not in lorawan, "a LoRaWAN device has no account of its own"
    missing = staff.get("/devices/no-such-device")
    assert missing.status == 404
    assert "No device of this id" in missing.text


def test_the_device_page_in_a_browser_from_the_fleet(
    tmp_path: Path, mosquitto: Mosquitto, service: IngestProcess, influxdb: InfluxDB, influx_db: str
) -> None:
    password = Accounts(tmp_path / "accounts.sqlite3").add("ida", Role.VIEWER)
    publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-1/up", b'{"readings": {"temperature": 19.5}}')])
    wait_until(lambda: bool(influxdb.points(influx_db, "temperature")), 20, "the reading")
    with browser_page(locale="da-DK") as page:
        log_in(page, service.http_url, "ida", password)
        page.click("#device-kit-1 a")
        page.wait_for_url("**/devices/kit-1")
        assert "19,5 °C" in page.inner_text("#reading-temperature")
        assert page.locator("#reading-temperature svg.spark").count() == 1
        screenshot(page, "device-page-da")


def test_an_operator_changes_a_device_and_its_id_and_creation_stay(tmp_path: Path, service: IngestProcess) -> None:
    before = RegistryFile(tmp_path / "registry.yaml").load().require("kit-1")
    viewer = console(service.http_url, tmp_path / "accounts.sqlite3")
    assert viewer.get("/devices/kit-1/edit").status == 403
    operator = console(service.http_url, tmp_path / "accounts.sqlite3", Role.OPERATOR)
    form = operator.get("/devices/kit-1/edit").text
    assert 'value="dokk1"' in form
    assert 'value="300"' in form, "the form shows what is registered"
    changed = {"model": "native", "site": "godsbanen", "kind": "climate", "name": "Hall", "interval_s": "600"}
    refused = operator.post("/devices/kit-1/edit", {**changed, "site": "Gods Banen", "csrf": form_csrf(form)})
    assert refused.status == 400
    assert 'value="Gods Banen"' in refused.text
    assert RegistryFile(tmp_path / "registry.yaml").load().require("kit-1") == before, (
        "a refused change changes nothing"
    )
    done = operator.post("/devices/kit-1/edit", {**changed, "id": "kit-9", "csrf": form_csrf(form)})
    assert (done.status, done.headers["Location"]) == (303, "/devices/kit-1"), "the id is not for changing"
    after = RegistryFile(tmp_path / "registry.yaml").load().require("kit-1")
    assert (after.site, after.name, after.interval_s, after.created) == ("godsbanen", "Hall", 600, before.created)
    assert "godsbanen" in operator.get("/devices/kit-1").text


def test_the_device_page_says_so_when_influxdb_cannot_give_the_charts(tmp_path: Path, mosquitto: Mosquitto) -> None:
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "kit-1", "model": "native", "site": "dokk1"}))
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": f"http://127.0.0.1:{free_port()}",  # nobody answers there
        "influx_create_database": "false",
        "unknown_devices": "reject",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-1/up", b'{"readings": {"temperature": 20.5}}')])
        staff = console(ingest.http_url, tmp_path / "accounts.sqlite3")
        wait_until(lambda: "20.5 °C" in staff.get("/devices/kit-1").text, 20, "the value, logged but not stored yet")
        page = staff.get("/devices/kit-1")
        assert page.status == 200
        assert "InfluxDB did not answer: the last day's charts are missing." in html.unescape(page.text)
        assert "InfluxDB does not accept writes" in html.unescape(staff.get("/").text), "and the problem, at the top"
        danish = staff.get("/", headers={"Accept-Language": "da"}).text
        assert "InfluxDB tager ikke imod skrivninger" in html.unescape(danish), "in the viewer's language"
    finally:
        ingest.terminate()


def test_with_tls_the_device_page_gives_the_ca_and_a_command_that_publishes_over_tls(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB, influx_db: str
) -> None:
    """#17 point 6: where devices connect over TLS (compose: 8883), the connection settings say so, the console
    hands out the broker's CA certificate, and the command shown works with it."""
    certs = CertificateFiles(tmp_path / "certs")
    make_certificates(certs, ["localhost", "127.0.0.1"])
    tls_port = free_port()
    tls = f"listener {tls_port} 127.0.0.1\ncafile {certs.ca_cert}\n"
    tls += f"certfile {certs.server_cert}\nkeyfile {certs.server_key}"
    broker = mosquitto_factory(extra_config=tls)
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "kit-1", "model": "native", "site": "dokk1"}))
    settings = {
        "mqtt_host": broker.host,
        "mqtt_port": str(broker.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "unknown_devices": "reject",
        "device_mqtt_port": str(tls_port),
        "device_ca_file": str(certs.ca_cert),
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    try:
        staff = console(ingest.http_url, tmp_path / "accounts.sqlite3")
        page = staff.get("/devices/kit-1").text
        assert f"127.0.0.1:{tls_port}</code> (TLS" in page
        command = html.unescape(re.search(r'<pre id="mosquitto-pub">(.*?)</pre>', page, re.S).group(1))  # type: ignore[union-attr]
        assert f"-p {tls_port} --cafile ca.crt" in command
        downloaded = staff.get("/ca.crt")
        assert downloaded.text == certs.ca_cert.read_text()
        device = tmp_path / "device"
        device.mkdir()
        (device / "ca.crt").write_text(downloaded.text)
        environment = {"PASSWORD": secrets.token_hex(8), "PATH": "/usr/bin:/bin"}
        subprocess.run(["bash", "-c", command], cwd=device, env=environment, check=True, timeout=20)
        wait_until(lambda: bool(influxdb.points(influx_db, "temperature")), 20, "the reading sent over TLS")
    finally:
        ingest.terminate()
