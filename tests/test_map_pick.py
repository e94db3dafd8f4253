"""Location by a map click (#15 point 5), in Debian's Chromium: the add-device form's map opens amid the
site's devices, draws the tiles of that place from the configured tile server (which the page's CSP lets
in), and a click fills in the latitude and longitude of the point clicked, a drag does not."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from iot_suitcase.devices.registry import RegistryFile, make_spec
from iot_suitcase.ingest.console.accounts import Accounts, Role
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.browser import browser_page, log_in, screenshot
from tests.helpers import IngestProcess, unique

# a 1x1 grey PNG: what a tile looks like here does not matter, that it is asked for does
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c63b80700008100806b9ac1d10000000049454e44ae426082"
)
SITE = (56.1535, 10.2135)


def to_pixels(lat: float, lon: float, zoom: int) -> tuple[float, float]:
    """Web mercator in pixels of the whole world (256 per tile), as tile servers cut it."""
    world = 256 * 2**zoom
    sin = math.sin(math.radians(lat))
    return (lon + 180) / 360 * world, (0.5 - math.log((1 + sin) / (1 - sin)) / (4 * math.pi)) * world


def to_degrees(x: float, y: float, zoom: int) -> tuple[float, float]:
    world = 256 * 2**zoom
    return math.degrees(math.atan(math.sinh(math.pi - 2 * math.pi * y / world))), x / world * 360 - 180


class TileServer(ThreadingHTTPServer):
    asked: list[str]


class TileHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, TileServer)
        self.server.asked.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PIXEL)))
        self.end_headers()
        self.wfile.write(PIXEL)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tiles() -> Iterator[TileServer]:
    server = TileServer(("127.0.0.1", 0), TileHandler)
    server.asked = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_click_on_the_map_gives_the_device_its_location(
    tmp_path: Path, mosquitto: Mosquitto, influxdb: InfluxDB, influx_db: str, tiles: TileServer
) -> None:
    registry_file = RegistryFile(tmp_path / "registry.yaml")
    with registry_file.edit() as registry:
        registry.add(
            make_spec(
                {
                    "id": "kit-1",
                    "model": "native",
                    "site": "dokk1",
                    "location": dict(zip(("lat", "lon"), SITE, strict=True)),
                }
            )
        )
    tile_url = f"http://127.0.0.1:{tiles.server_address[1]}/tiles/{{z}}/{{x}}/{{y}}.png"
    settings = {
        "mqtt_host": mosquitto.host,
        "mqtt_port": str(mosquitto.port),
        "mqtt_client_id": unique("suitcase-ingest-"),
        "influx_url": influxdb.url,
        "influx_database": influx_db,
        "registry_file": str(registry_file.path),
        "map_tiles_url": tile_url,
        "map_attribution": "© test tiles",
    }
    ingest = IngestProcess(tmp_path / "ingest.log", settings).start()
    password = Accounts(tmp_path / "accounts.sqlite3").add("ole", Role.OPERATOR)
    try:
        with browser_page() as page:
            log_in(page, ingest.http_url, "ole", password)
            answer = page.goto(f"{ingest.http_url}/add-device")
            assert answer is not None
            assert (
                f"img-src 'self' data: http://127.0.0.1:{tiles.server_address[1]};"
                in answer.headers["content-security-policy"]
            )
            box = page.locator("#map")
            box.wait_for(state="visible")
            assert page.locator(".map-attribution").inner_text() == "© test tiles"
            zoom = int(box.get_attribute("data-zoom") or "0")
            assert zoom == 13
            centre = to_pixels(*SITE, zoom)
            assert f"/tiles/{zoom}/{int(centre[0] // 256)}/{int(centre[1] // 256)}.png" in tiles.asked

            frame = box.bounding_box()
            assert frame is not None
            width, height = page.evaluate("() => [map.clientWidth, map.clientHeight]")
            left, top = frame["x"] + (frame["width"] - width) / 2, frame["y"] + (frame["height"] - height) / 2
            page.mouse.click(left + width / 2 + 40, top + height / 2 - 30)
            want = to_degrees(centre[0] + 40, centre[1] - 30, zoom)
            got = (float(page.input_value("#lat")), float(page.input_value("#lon")))
            assert got == pytest.approx(want, abs=2e-5), "the point clicked (a pixel is 1e-5 degrees here)"
            assert page.locator(".map-marker").is_visible()

            page.mouse.move(left + 100, top + 100)
            page.mouse.down()
            page.mouse.move(left + 220, top + 160, steps=5)
            page.mouse.up()
            assert (float(page.input_value("#lat")), float(page.input_value("#lon"))) == got, "a drag moves the map"
            screenshot(page, "map-pick")

            page.fill("#id", "kit-2")
            page.fill("#model", "native")
            page.fill("#site", "dokk1")
            page.click("button.primary")
            page.wait_for_url(f"{ingest.http_url}/devices/kit-2?added=1")
        location = registry_file.load().require("kit-2").location
        assert location is not None
        assert (location.lat, location.lon) == got
    finally:
        ingest.terminate()
