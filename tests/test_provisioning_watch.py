"""Grafana's provisioning follows the registry (#17 point 2): `suitcase dashboards export DIR --watch` writes the
tree again when the registry changes, so a new device's kind gets its dashboard with no manual export; with a
Grafana token it asks Grafana to reload its alert rules (here a local stand-in for that one endpoint records the
call: no Grafana runs here)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from iot_suitcase.devices.registry import RegistryFile, make_spec
from tests.helpers import wait_until


class Reloads(ThreadingHTTPServer):
    calls: list[tuple[str, str, str]]


class ReloadHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        assert isinstance(self.server, Reloads)
        self.server.calls.append((self.command, self.path, self.headers.get("Authorization", "")))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def grafana() -> Iterator[Reloads]:
    server = Reloads(("127.0.0.1", 0), ReloadHandler)
    server.calls = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_tree_follows_the_registry_and_grafana_reloads_its_rules(tmp_path: Path, grafana: Reloads) -> None:
    registry = RegistryFile(tmp_path / "registry.yaml")
    with registry.edit() as devices:
        devices.add(make_spec({"id": "kit-1", "model": "native", "kind": "climate", "site": "harbour"}))
    tree = tmp_path / "provisioning"
    token = os.urandom(16).hex()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUITCASE_")}
    env |= {"SUITCASE_GRAFANA_URL": f"http://127.0.0.1:{grafana.server_address[1]}", "SUITCASE_GRAFANA_TOKEN": token}
    command = [sys.executable, "-m", "iot_suitcase", "dashboards", "export", str(tree), "--compose", "--watch"]
    watcher = subprocess.Popen(
        [*command, "--registry", str(registry.path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        boards = tree / "dashboards" / "iot-suitcase"
        wait_until((boards / "suitcase-kind-climate.json").exists, 60, "the first export")
        assert not (boards / "suitcase-kind-noise.json").exists()
        wait_until(lambda: len(grafana.calls) == 1, 10, "Grafana asked to reload its alert rules")
        with registry.edit() as devices:
            devices.add(
                make_spec({"id": "noise-1", "model": "native", "kind": "noise", "site": "harbour", "interval_s": 120})
            )
        wait_until((boards / "suitcase-kind-noise.json").exists, 20, "the new kind's dashboard")
        rules = tree / "alerting" / "iot-suitcase-rules.yaml"
        wait_until(lambda: "'120'" in rules.read_text(), 10, "a silence window for its reporting interval")
        wait_until(lambda: len(grafana.calls) == 2, 10, "Grafana asked again")
        assert grafana.calls[-1] == ("POST", "/api/admin/provisioning/alerting/reload", f"Bearer {token}")
        assert watcher.poll() is None, "it keeps watching"
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)
