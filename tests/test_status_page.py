"""The status page in a real headless Chromium (after a login), /metrics through prometheus-client's parser,
health checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.ingest.console.accounts import Accounts, Role
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.browser import browser_page, log_in, screenshot
from tests.console import Console, console, request
from tests.helpers import IngestProcess, publish_all, unique, wait_until


@pytest.fixture
def running(tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str) -> Iterator[IngestProcess]:
    with RegistryFile(tmp_path / "registry.yaml").edit() as registry:
        registry.add(make_spec({"id": "kit-7", "model": "native", "site": "dokk1", "interval_s": 600}))
        registry.add(make_spec({"id": "kit-8", "model": "native", "site": "dokk1", "interval_s": 600}))
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "topic_root": "suitcase",
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "batch_interval_s": "0.05",
        "registry_file": str(tmp_path / "registry.yaml"),
        "unknown_devices": "reject",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    yield ingest
    ingest.terminate()


@pytest.fixture
def viewer(tmp_path: Path, running: IngestProcess) -> Console:
    return console(running.http_url, tmp_path / "accounts.sqlite3")


def test_status_page_shows_a_fresh_reading_and_a_reject_in_chromium(
    tmp_path: Path, mosquitto: Mosquitto, running: IngestProcess, influxdb: InfluxDB, influx_db: str
) -> None:
    password = Accounts(tmp_path / "accounts.sqlite3").add("ida", Role.VIEWER)
    publish_all(
        mosquitto.host,
        mosquitto.port,
        [
            ("suitcase/kit-7/up", b'{"readings": {"co2": 734, "battery": 81}}'),
            ("suitcase/kit-8/up", b'{"readings": {"humidity": 140}}'),
            ("suitcase/stranger-1/up", b'{"readings": {"co2": 500}}'),
        ],
    )
    wait_until(lambda: influxdb.count(influx_db) >= 2, 20, "kit-7's readings")
    with browser_page() as page:
        log_in(page, running.http_url, "ida", password)
        dom = page.content()
        assert screenshot(page, "fleet-page").stat().st_size > 10_000
        summary = {state: page.inner_text(f"#count-{state} b") for state in ("all", "ok", "never", "rejecting")}
        assert summary == {"all": "2", "ok": "1", "never": "1", "rejecting": "1"}, "the first screen counts"
        assert page.inner_text("#count-knocking b") == "1"
        page.evaluate("window.notReloaded = true")
        publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-7/up", b'{"readings": {"co2": 801}}')])
        wait_until(lambda: "801" in page.inner_text("#device-kit-7"), 20, "the new value in the open page")
        assert page.evaluate("window.notReloaded === true"), "the values changed in place, without a reload"
        page.select_option("#state", "rejecting")
        page.click("form[role=search] button[type=submit]")
        page.wait_for_url("**state=rejecting**")
        assert page.locator("tr[id^=device-]").count() == 1
        assert page.locator("#device-kit-8").count() == 1, "the filter shows the one device that rejects"
    row = dom.split('id="device-kit-7"', 1)[1].split("</tr>", 1)[0]
    assert '<span title="Carbon dioxide concentration"><span class="hint">CO₂</span> 734 ppm</span>' in row, (
        "the device that just published shows its latest value, by its short name, at the catalog's decimals"
    )
    assert '<span class="ok">ok</span>' in row
    assert "81 %" in row, "and its battery"
    assert "out_of_range" in dom, "the rejected message shows with its reason"
    kit8 = dom.split('id="device-kit-8"', 1)[1].split("</tr>", 1)[0]
    assert "rejected: out_of_range" in kit8, "a device whose data does not arrive says why in its own row"
    assert "humidity: 140 % is outside the plausible range" in dom
    assert "stranger-1" in dom.split("Unknown devices knocking", 1)[1], "a stranger knocking is listed"


def test_the_fleet_page_in_danish_with_a_low_battery(
    tmp_path: Path, mosquitto: Mosquitto, running: IngestProcess, influxdb: InfluxDB, influx_db: str
) -> None:
    password = Accounts(tmp_path / "accounts.sqlite3").add("ida", Role.VIEWER)
    body = b'{"readings": {"pressure": 1003.8000000000001, "battery": 9, "temperature": 21.5}}'
    publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-7/up", body)])
    wait_until(lambda: influxdb.count(influx_db) >= 3, 20, "kit-7's readings")
    with browser_page(locale="da-DK") as page:
        log_in(page, running.http_url, "ida", password)
        assert page.get_attribute("html", "lang") == "da"
        row = page.inner_text("#device-kit-7")
        assert "Lufttryk 1.003,8 hPa" in row, "Danish names and number format, the catalog's decimals"
        assert "Temperatur 21,5 °C" in row
        assert "9 % (lavt)" in row, "a battery at 9 % is low"
        assert page.inner_text("#count-low_battery b") == "1"
        assert "aldrig set" in page.inner_text("#device-kit-8")
        screenshot(page, "fleet-page-da")


def test_metrics_parse_and_count_what_was_sent(mosquitto: Mosquitto, viewer: Console) -> None:
    messages = [("suitcase/kit-7/up", b'{"readings": {"co2": %d}}' % (400 + n)) for n in range(30)]
    messages += [("suitcase/kit-7/up", b"not json")] * 4 + [("suitcase/kit-9/up", b'{"readings": {"co2": 1}}')] * 2
    publish_all(mosquitto.host, mosquitto.port, messages)

    def families() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
        text = viewer.get("/metrics").text
        return {
            family.name: {
                tuple(sorted(s.labels.items())): s.value
                for s in family.samples
                if s.name.endswith("_total") or family.type != "counter"
            }
            for family in text_string_to_metric_families(text)
        }

    wait_until(lambda: families()["suitcase_readings_stored"].get((), 0) >= 30, 20, "30 stored readings in /metrics")
    metrics = families()
    assert metrics["suitcase_messages_received"][()] == 36
    assert metrics["suitcase_messages_acked"][()] == 36
    assert metrics["suitcase_readings_stored"][()] == 30
    assert metrics["suitcase_messages_rejected"][(("reason", "malformed_json"),)] == 4
    assert metrics["suitcase_messages_rejected"][(("reason", "unknown_device"),)] == 2
    assert metrics["suitcase_mqtt_connected"][()] == 1
    assert metrics["suitcase_influx_ok"][()] == 1


def test_health_and_api(running: IngestProcess, viewer: Console, mosquitto: Mosquitto) -> None:
    assert request(f"{running.http_url}/healthz").status == 200
    ready = request(f"{running.http_url}/readyz")
    status, body = ready.status, ready.body
    assert (status, json.loads(body)["ready"]) == (200, True)
    publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-8/up", b'{"readings": {"temperature": "hot"}}')])
    wait_until(lambda: bool(json.loads(viewer.get("/api/rejects").body)["rejects"]), 20, "a reject")
    reject = json.loads(viewer.get("/api/rejects").body)["rejects"][0]
    assert (reject["device"], reject["reason"], reject["payload"]) == (
        "kit-8",
        "wrong_type",
        '{"readings": {"temperature": "hot"}}',
    )
    devices = json.loads(viewer.get("/api/devices").body)
    assert [d["id"] for d in devices["devices"]] == ["kit-7", "kit-8"]
    assert devices["devices"][0]["state"] == "never"


def test_what_the_status_page_showed_comes_back_after_a_restart(
    mosquitto: Mosquitto, running: IngestProcess, viewer: Console, influxdb: InfluxDB, influx_db: str
) -> None:
    """#15 point 4: last seen, latest values, each device's latest reject and the reject count survive."""
    publish_all(
        mosquitto.host,
        mosquitto.port,
        [
            ("suitcase/kit-7/up", b'{"readings": {"co2": 734, "battery": 81}}'),
            ("suitcase/kit-8/up", b'{"readings": {"humidity": 140}}'),
        ],
    )
    wait_until(lambda: influxdb.count(influx_db) >= 2, 20, "kit-7's readings")
    before = json.loads(viewer.get("/api/devices").body)["devices"]
    assert running.terminate() == 0
    running.start()
    viewer.base_url = running.http_url  # a new port; the same login: sessions survive a restart too
    after = json.loads(viewer.get("/api/devices").body)["devices"]
    kit7, kit8 = after
    assert (kit7["id"], kit7["last_seen"], kit7["latest"]) == ("kit-7", before[0]["last_seen"], before[0]["latest"])
    assert kit7["latest"]["co2"]["value"] == 734
    assert (kit7["state"], kit7["messages"]) == ("ok", 1)
    assert kit8["last_reject"]["reason"] == "out_of_range", "why kit-8's data does not arrive, still"
    page = viewer.get("/").text
    assert 'id="fig-rejects_kept">rejects kept (all time)<b>1</b>' in page


def test_a_senml_pack_with_a_string_record_stores_its_numbers_and_counts_the_rest(
    mosquitto: Mosquitto, viewer: Console, influxdb: InfluxDB, influx_db: str
) -> None:
    """#16 point 5: RFC 8428 5.1.5's pack (a temperature, a string, a boolean and a data record) was rejected."""
    pack = b'[{"n":"temperature","u":"Cel","v":23.1},{"n":"label","vs":"Machine Room"},{"n":"open","vb":false}]'
    publish_all(mosquitto.host, mosquitto.port, [("suitcase/kit-7/senml", pack)])
    wait_until(lambda: bool(influxdb.points(influx_db, "temperature")), 20, "the temperature")
    assert "suitcase_values_skipped_total 2.0" in viewer.get("/metrics").text
