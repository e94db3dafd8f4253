"""A tenant's archive: what goes in, and that an archive made by someone else cannot write anywhere but the new
tenant's folder, nor take more than the size limit, nor bring settings that are not settings."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path
from typing import Any

import pytest

from iot_suitcase.devices.tenants.model import Tenant
from iot_suitcase.devices.tenants.moving import ARCHIVE_KIND, ARCHIVE_VERSION, MoveError, export_tenant, read_archive


def manifest(**changes: Any) -> dict[str, Any]:
    return {
        "kind": ARCHIVE_KIND,
        "version": ARCHIVE_VERSION,
        "name": "aarhus",
        "title": "Aarhus Kommune",
        "topic_root": "suitcase@aarhus",
        "settings": {"SUITCASE_MQTT_RATE_PER_S": "50"},
        "files": ["registry.yaml"],
        "exported_at": "2026-12-06T12:00:00+00:00",
    } | changes


def archive(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def test_an_export_holds_the_tenants_files_but_not_its_secrets_service_files_or_sessions(tmp_path: Path) -> None:
    folder = tmp_path / "tenants" / "aarhus"
    (folder / "ingest").mkdir(parents=True)
    (folder / "registry.yaml").write_text("devices: {}\n")
    (folder / ".registry.yaml.lock").write_text("")
    (folder / "tenant.env").write_text("SUITCASE_MQTT_PASSWORD=secret-of-the-service\n")
    (folder / "ingest" / "rejects.sqlite3").write_text("a reject")
    with sqlite3.connect(folder / "accounts.sqlite3") as db:
        db.execute("CREATE TABLE accounts (name TEXT, hash TEXT)")
        db.execute("CREATE TABLE sessions (token_hash TEXT, account TEXT)")
        db.execute("INSERT INTO accounts VALUES ('anna', '$scrypt$hash')")
        db.execute("INSERT INTO sessions VALUES ('token-hash-of-a-login', 'anna')")
    db.close()
    target = tmp_path / "aarhus.tar.gz"
    export_tenant(Tenant("aarhus", "Aarhus", 8081), folder, {}, "suitcase@aarhus", target)

    found, files = read_archive(target)
    assert found.files == ("accounts.sqlite3", "registry.yaml")
    assert set(files) == {"accounts.sqlite3", "registry.yaml"}
    copy = tmp_path / "copy.sqlite3"
    copy.write_bytes(files["accounts.sqlite3"])
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT name FROM accounts").fetchall() == [("anna",)]
        assert db.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
    db.close()
    assert b"token-hash-of-a-login" not in files["accounts.sqlite3"], "the deleted session's page is gone too"
    assert target.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ({"manifest.json": json.dumps(manifest(files=["../../etc/cron.d/x"])).encode()}, "may not"),
        ({"manifest.json": json.dumps(manifest(files=["/etc/passwd"])).encode()}, "may not"),
        ({"manifest.json": json.dumps(manifest(files=["tenant.env"])).encode()}, "may not"),
        ({"manifest.json": json.dumps(manifest(files=["ingest/wal.log"])).encode()}, "may not"),
        ({"manifest.json": json.dumps(manifest(files=[".hidden"])).encode()}, "may not"),
        ({"manifest.json": json.dumps(manifest(name="../../etc")).encode()}, "not valid"),
        ({"manifest.json": json.dumps(manifest(name="suitcase-ingest")).encode()}, "reserved"),
        ({"manifest.json": json.dumps(manifest(topic_root="suitcase")).encode()}, "topic root"),
        ({"manifest.json": json.dumps(manifest(topic_root="#@aarhus")).encode()}, "topic root"),
        ({"manifest.json": json.dumps(manifest(settings={"PATH": "/tmp"})).encode()}, "setting"),
        ({"manifest.json": json.dumps(manifest(settings={"SUITCASE_X": "a\nSUITCASE_Y=b"})).encode()}, "setting"),
        ({"manifest.json": json.dumps(manifest(kind="something else")).encode()}, "not a tenant archive"),
        ({"manifest.json": json.dumps(manifest(version=99)).encode()}, "not a tenant archive"),
        ({"manifest.json": b"{not json"}, "cannot be read"),
        ({"manifest.json": json.dumps(manifest()).encode()}, "no plain file 'files/registry.yaml'"),
        ({"other.json": b"{}"}, "no plain file 'manifest.json'"),
    ],
)
def test_an_archive_that_names_what_it_may_not_is_refused_saying_why(
    tmp_path: Path, members: dict[str, bytes], problem: str
) -> None:
    with pytest.raises(MoveError, match=problem):
        read_archive(archive(tmp_path / "hostile.tar.gz", members))


def test_a_link_in_place_of_a_file_is_refused(tmp_path: Path) -> None:
    hostile = archive(
        tmp_path / "link.tar.gz",
        {"manifest.json": json.dumps(manifest()).encode()},
        links={"files/registry.yaml": "/etc/shadow"},
    )
    with pytest.raises(MoveError, match="no plain file"):
        read_archive(hostile)


def test_an_archive_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("iot_suitcase.devices.tenants.moving.MAX_ARCHIVE_BYTES", 1000)
    files = ["registry.yaml", "credentials.yaml"]
    members = {
        "manifest.json": json.dumps(manifest(files=files)).encode(),
        "files/registry.yaml": b"x" * 600,
        "files/credentials.yaml": b"y" * 600,  # each under the limit, both over it
    }
    with pytest.raises(MoveError, match="larger than"):
        read_archive(archive(tmp_path / "big.tar.gz", members))


def test_what_is_not_a_tar_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("hello")
    with pytest.raises(MoveError, match="not a tenant archive"):
        read_archive(tmp_path / "plain.txt")
