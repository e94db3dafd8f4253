"""Redirects after a form stay on this site, whatever a link's ``next`` or a form's ``back`` says."""

from __future__ import annotations

import pytest

from iot_suitcase.ingest.console.auth import local_path, security_headers
from iot_suitcase.ingest.console.settings import ConsoleSettings


@pytest.mark.parametrize("path", ["/", "/devices/kit-1", "/?state=late&page=2", "/api/rejects?device=x%20y"])
def test_a_path_of_this_site_is_kept(path: str) -> None:
    assert local_path(path) == path


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "https://evil.example/",
        "",
        "x",
        "/ok\\..\\",
        "/\x00",
    ],
)
def test_anything_that_could_leave_the_site_goes_home(target: str) -> None:
    assert local_path(target) == "/"


def test_the_map_tiles_origin_is_the_only_other_image_source_and_off_means_none() -> None:
    tiles = ConsoleSettings(map_tiles_url="https://tiles.example.org/osm/{z}/{x}/{y}.png").map_tiles
    assert "img-src 'self' data: https://tiles.example.org;" in security_headers(tiles)["Content-Security-Policy"]
    off = ConsoleSettings(map_tiles_url="off").map_tiles
    assert off is None
    assert "img-src 'self' data:;" in security_headers(off)["Content-Security-Policy"]
