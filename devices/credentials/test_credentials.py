"""Credential hashes in Mosquitto's own format, checked against Mosquitto's own tool."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from iot_suitcase.devices.credentials import (
    CredentialStore,
    device_acl,
    hash_password,
    password_file,
    service_acl,
    verify_password,
)


def test_our_verifier_accepts_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), "kit-01", "pa55-word"], check=True)
    hashed = path.read_text().strip().split(":", 1)[1]
    assert verify_password("pa55-word", hashed)
    assert not verify_password("pa55-worD", hashed)


def test_hashes_are_salted_and_verify() -> None:
    first, second = hash_password("same"), hash_password("same")
    assert first != second
    assert first.startswith("$7$10000$")
    assert verify_password("same", first)
    assert verify_password("same", second)
    assert not verify_password("other", first)
    assert not verify_password("same", "plaintext")


def test_files_have_mosquittos_shape() -> None:
    text = password_file({"b-dev": "$7$1$c2FsdA==$aGFzaA==", "a-dev": "$7$1$c2FsdA==$aGFzaA=="})
    assert text.splitlines()[0].startswith("a-dev:$7$")
    with pytest.raises(ValueError, match="cannot be written"):
        password_file({"evil:user": "x"})
    acl = device_acl(topic_root="suitcase", devices={"kit-1": "kit-1", "kit-1@aarhus": "kit-1"})
    assert "user ingest\ntopic read #" in service_acl(ingest_user="ingest")
    assert "user ingest\ntopic read suitcase/#\n" in service_acl(ingest_user="ingest", reads=("suitcase/#",))
    assert "user kit-1\ntopic write suitcase/kit-1/#\n" in acl
    assert "user kit-1@aarhus\ntopic write suitcase/kit-1/#\n" in acl
    assert "pattern" not in acl, "a pattern would apply to every account, a tenant's devices too"


def test_store_keeps_hashes_only_and_rotates(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.yaml")
    issued = store.issue("kit-01")
    store.save()
    text = (tmp_path / "credentials.yaml").read_text()
    assert issued.mqtt_password not in text
    assert issued.api_key not in text
    assert stat.S_IMODE((tmp_path / "credentials.yaml").stat().st_mode) == 0o600
    again = CredentialStore(tmp_path / "credentials.yaml")
    assert again.check_api_key("kit-01", issued.api_key)
    assert not again.check_api_key("kit-01", issued.api_key + "x")
    assert not again.check_api_key("kit-02", issued.api_key)
    rotated = again.issue("kit-01")
    assert rotated.api_key != issued.api_key
    assert not again.check_api_key("kit-01", issued.api_key)
    assert verify_password(rotated.mqtt_password, again.devices["kit-01"].mqtt_password_hash)
