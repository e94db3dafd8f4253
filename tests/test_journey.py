"""The newcomer's journey through the console on the real local stack (#15 acceptance), in headless Chromium:
`suitcase init` and `scripts/up` as the README says, then everything in the browser. A screenshot of each step
is kept in test-output/journey-*.png."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page

from iot_suitcase.servers import InfluxDB, free_port, port_is_listening
from tests.browser import browser_page, screenshot
from tests.helpers import wait_until

pytestmark = pytest.mark.slow


def mosquitto_pub(port: int, user: str, password: str, topic: str, payload: str) -> None:
    account = ["-u", user, "-P", password, "-i", user]
    command = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", *account, "-t", topic, "-m", payload]
    subprocess.run(command, check=True, timeout=20)


def shows_within(page: Page, url: str, text: str, seconds: float, what: str) -> None:
    def shown() -> bool:
        page.goto(url)
        return text in page.inner_text("main")

    wait_until(shown, seconds, what, interval=0.5)


def test_a_newcomer_adds_a_sensor_sees_it_arrive_and_sees_why_not(tmp_path: Path, influxdb: InfluxDB) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "init"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    admin_password = re.search(r"log in as 'admin' with the password (\S+) ", made.stdout).group(1)  # type: ignore[union-attr]
    env = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if "=" in line)
    mqtt_port, http_port = free_port(), free_port()
    console = f"http://127.0.0.1:{http_port}"
    # `suitcase up` is what scripts/up runs after the set-up; here in the folder `suitcase init` wrote
    command = [sys.executable, "-m", "iot_suitcase", "up", "--mqtt-port", str(mqtt_port), "--http-port", str(http_port)]
    command += ["--influx-url", influxdb.url, "--influx-database", "journey", "--no-demo"]
    with (tmp_path / "up.log").open("wb") as log:
        up = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        wait_until(lambda: port_is_listening("127.0.0.1", http_port), 60, "the console")
        with browser_page() as page:
            page.goto(f"{console}/")
            screenshot(page, "journey-1-login")
            page.fill("#name", "admin")
            page.fill("#password", admin_password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{console}/")
            screenshot(page, "journey-2-fleet")

            page.click("text=Add a device")
            page.fill("#id", "my-sensor")
            page.fill("#model", "native")
            page.fill("#site", "office")
            page.fill("#name", "Meeting room")
            page.click("form.device button[type=submit]")
            page.wait_for_url(f"{console}/devices/my-sensor?added=1")
            screenshot(page, "journey-3-added")
            page.click("#issue-credentials")
            password = page.inner_text("#mqtt-password")
            assert len(password) >= 20
            screenshot(page, "journey-4-credentials")
            page.goto(f"{console}/devices/my-sensor")
            assert password not in page.content(), "shown once: the device page does not show it again"

            mosquitto_pub(
                mqtt_port, "my-sensor", password, "suitcase/my-sensor/up", '{"readings": {"temperature": 21.5}}'
            )
            shows_within(page, f"{console}/devices/my-sensor", "21.5 °C", 5, "the reading on the device page")
            screenshot(page, "journey-5-first-reading")
            mosquitto_pub(mqtt_port, "my-sensor", password, "suitcase/my-sensor/up", '{"readings": {"temprature": 22}}')
            shows_within(page, f"{console}/devices/my-sensor", "unknown_quantity", 5, "the typo's reason")
            screenshot(page, "journey-6-typo")

            # a device that publishes before it is registered (through the demo account, which may publish
            # any device's uplinks; a device account of its own cannot exist before it is registered)
            simulator = env["SUITCASE_SIMULATOR_MQTT_USERNAME"], env["SUITCASE_SIMULATOR_MQTT_PASSWORD"]
            mosquitto_pub(mqtt_port, *simulator, "suitcase/late-1/up", '{"readings": {"temperature": 18.5}}')
            shows_within(page, f"{console}/", "late-1", 10, "the unknown device knocking")
            page.goto(f"{console}/add-device")
            page.fill("#id", "late-1")
            page.fill("#model", "native")
            page.fill("#site", "office")
            page.click("form.device button[type=submit]")
            page.wait_for_url("**/devices/late-1?added=1")
            shows_within(page, f"{console}/devices/late-1", "1 messages waiting", 10, "the waiting message")
            page.click("text=Take them in")
            shows_within(page, f"{console}/devices/late-1", "18.5 °C", 10, "the waiting reading, taken in")
            screenshot(page, "journey-7-taken-in")

            page.goto(f"{console}/import")
            page.fill("#text", "id,model,site\nhall-1,native,school\nhall-2,native,School Yard\n")
            page.click("form.sheet button[type=submit]")
            problems = page.inner_text("#problems")
            assert "line 3" in problems
            assert "site" in problems
            screenshot(page, "journey-8-bad-row")
            page.fill("#text", "id,model,site\nhall-1,native,school\nhall-2,native,school-yard\n")
            page.click("form.sheet button[type=submit]")
            assert "Imported 2 devices" in page.inner_text("#imported")
            page.fill("#text", "id,model,site,name\nhall-2,native,school-yard,By the gate\n")
            page.check("#update")
            page.click("form.sheet button[type=submit]")
            assert "Imported 1 devices" in page.inner_text("#imported")
            page.goto(f"{console}/devices/hall-2")
            assert "By the gate" in page.inner_text("main"), "the edited sheet, imported in update mode, took"
            screenshot(page, "journey-9-imported")

            page.click("header button[type=submit]:has-text('Log out')")
            page.wait_for_url("**/login")
            for path in ("/", "/devices/my-sensor", "/accounts", "/add-device", "/import"):
                page.goto(f"{console}{path}")
                assert "/login" in page.url, f"{path} is closed after the logout"
            screenshot(page, "journey-10-logged-out")
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=30)
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
