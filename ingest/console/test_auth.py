"""Redirects after a form stay on this site, whatever a link's ``next`` or a form's ``back`` says."""

from __future__ import annotations

import pytest

from iot_suitcase.ingest.console.auth import local_path


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
