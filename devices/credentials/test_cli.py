"""#13 point 6: one device-id rule at registration, and credential changes that never touch another device."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from iot_suitcase.devices.credentials import verify_password


def suitcase(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SUITCASE_")}
    return subprocess.run(
        [sys.executable, "-m", "iot_suitcase", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_ids_the_broker_cannot_carry_are_refused_at_registration_and_import(tmp_path: Path) -> None:
    for device_id, why in (("kit:2", "A-Z a-z 0-9 . _ -"), ("suitcase-ingest", "the platform's own")):
        added = suitcase(tmp_path, "devices", "add", device_id, "--model", "native", "--site", "office")
        assert added.returncode == 1
        assert why in added.stderr
    (tmp_path / "kit.csv").write_text("id,model,site\nkit-1,native,office\nkit:2,native,office\n")
    imported = suitcase(tmp_path, "devices", "import", "kit.csv")
    assert imported.returncode == 1
    assert "line 3" in imported.stderr
    assert "kit:2" in imported.stderr
    assert (
        not (tmp_path / "var" / "registry.yaml").exists()
        or "kit-1" not in (tmp_path / "var" / "registry.yaml").read_text()
    )


def test_a_legacy_entry_never_blocks_or_alters_another_device(tmp_path: Path) -> None:
    assert suitcase(tmp_path, "init").returncode == 0
    store = tmp_path / "var" / "credentials.yaml"
    legacy = {
        "mqtt_password_hash": "$7$1$c2FsdA==$aGFzaA==",
        "api_key_sha256": "0" * 64,
        "issued_at": "2026-01-01T00:00:00Z",
    }
    store.write_text(yaml.safe_dump({"devices": {"kit:2": legacy}}))
    for device in ("kit-1", "kit-3"):
        assert suitcase(tmp_path, "devices", "add", device, "--model", "native", "--site", "office").returncode == 0
    first = suitcase(tmp_path, "devices", "credentials", "kit-1")
    assert first.returncode == 0, first.stderr
    assert "kit:2" in first.stderr
    assert "leave it out" in first.stderr
    password = next(line.split()[-1] for line in first.stdout.splitlines() if "MQTT password" in line)
    after_first = store.read_text()
    refused = suitcase(tmp_path, "devices", "credentials", "kit:2")  # not registrable: refused before any write
    assert refused.returncode == 1
    assert store.read_text() == after_first, "a refused attempt changes nothing"
    assert suitcase(tmp_path, "devices", "credentials", "kit-3").returncode == 0
    assert suitcase(tmp_path, "init", "--broker-files").returncode == 0
    saved = yaml.safe_load(store.read_text())["devices"]
    assert saved["kit:2"]["api_key_sha256"] == legacy["api_key_sha256"], "the legacy entry is kept as it was"
    assert verify_password(password, saved["kit-1"]["mqtt_password_hash"]), "kit-1's credentials still hold"
    passwd = (tmp_path / "var" / "mosquitto" / "passwd").read_text()
    assert [line.split(":")[0] for line in passwd.splitlines()] == ["kit-1", "kit-3", "suitcase-simulator"]
