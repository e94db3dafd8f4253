"""Moving a tenant to another installation (#18 point 5): one archive of what is the tenant's own and not its
data: its registry, its devices' credential hashes, its console accounts (password hashes, no sessions), its
JavaScript decoders and the settings it chose (quotas, alert contacts, languages, ...).

Left behind on purpose: the secrets of its services (the new installation makes fresh ones for its broker and
InfluxDB), the installation's shared settings and paths (the new one's apply), its ingest service's log and
rejects (that service is stopped with the move), and its readings, which stay in its InfluxDB database
``suitcase_<name>`` (with the same InfluxDB, nothing to do; with another, move the database with InfluxDB's own
backup and restore). Devices keep their passwords, topics and broker user names, so they need no visit.

The archive is a gzip'd tar of ``manifest.json`` and ``files/...``. Import reads only the members the manifest
names, each a plain file under a plain relative path, within a size limit: an archive is not trusted.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from iot_suitcase.devices.credentials.mosquitto import write_atomically
from iot_suitcase.devices.opendata.settings import SERVER_ENV_FILE
from iot_suitcase.devices.tenants.model import ACCOUNTS_FILE, Tenant, tenant_name_problem

ARCHIVE_KIND = "iot-suitcase tenant"
ARCHIVE_VERSION = 1
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024  # all members together: registries of thousands of devices are a few MB
# its secrets (and its open-data server's share of them) and its service's own files (log, rejects)
LEFT_BEHIND = ("tenant.env", SERVER_ENV_FILE, "ingest")
MAX_MEMBERS = 10_000  # a tenant's folder holds a handful of files; a decoder script or two each


class MoveError(ValueError):
    """An archive that cannot be imported, or a tenant that cannot be exported, saying why."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """What an archive holds: whose it is, its settings of its own choosing, its files (relative paths)."""

    name: str
    title: str
    topic_root: str  # its devices' topics go on unchanged
    settings: dict[str, str]
    files: tuple[str, ...]
    exported_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": ARCHIVE_KIND,
            "version": ARCHIVE_VERSION,
            "name": self.name,
            "title": self.title,
            "topic_root": self.topic_root,
            "settings": self.settings,
            "files": list(self.files),
            "exported_at": self.exported_at,
        }


def export_tenant(tenant: Tenant, folder: Path, settings: dict[str, str], topic_root: str, target: Path) -> Manifest:
    """Write the archive of ``tenant`` (whose files are in ``folder``) to ``target``; ``settings`` are the
    ones of its own choosing, already without secrets, paths and shared settings."""
    files = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not _left_behind(path.relative_to(folder).parts)
    )
    manifest = Manifest(
        tenant.name, tenant.title, topic_root, settings, tuple(files), datetime.now(UTC).isoformat(timespec="seconds")
    )
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        _add_bytes(archive, "manifest.json", json.dumps(manifest.as_json(), indent=1).encode())
        for name in files:
            source = folder / name
            _add_bytes(
                archive, f"files/{name}", _without_sessions(source) if name == ACCOUNTS_FILE else source.read_bytes()
            )
    write_atomically(target, packed.getvalue(), mode=0o600)  # credential and password hashes: the admin's alone
    return manifest


def _left_behind(parts: tuple[str, ...]) -> bool:
    """Its secrets, its service's files, and hidden files (locks, a write's temporary file)."""
    return parts[0] in LEFT_BEHIND or any(part.startswith(".") for part in parts)


def read_archive(source: Path) -> tuple[Manifest, dict[str, bytes]]:
    """The manifest and the files of an archive, checked: a known kind and version, a valid tenant name, only
    plain files under plain relative paths, nothing beyond the size limit."""
    try:
        if source.stat().st_size > MAX_ARCHIVE_BYTES:
            raise MoveError(f"the archive is larger than {MAX_ARCHIVE_BYTES // 2**20} MiB")
        with tarfile.open(source, mode="r:gz") as archive:
            members: dict[str, tarfile.TarInfo] = {}
            for member in archive:
                if len(members) >= MAX_MEMBERS:
                    raise MoveError(f"the archive has more than {MAX_MEMBERS} members")
                members[member.name] = member
            manifest = _manifest(_read(archive, members, "manifest.json", MAX_ARCHIVE_BYTES))
            files, total = {}, 0
            for name in manifest.files:
                data = _read(archive, members, f"files/{name}", MAX_ARCHIVE_BYTES - total)
                total += len(data)
                files[name] = data
    except (OSError, tarfile.TarError, EOFError) as error:
        raise MoveError(f"{source}: not a tenant archive ({error})") from None
    return manifest, files


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """The archive's files into a new tenant's folder (0600: hashes and accounts)."""
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomically(path, data, mode=0o600)


def _manifest(data: bytes) -> Manifest:
    try:
        raw = json.loads(data)
        if raw.get("kind") != ARCHIVE_KIND or raw.get("version") != ARCHIVE_VERSION:
            raise MoveError(f"not a tenant archive of version {ARCHIVE_VERSION} (kind {raw.get('kind')!r})")
        manifest = Manifest(
            name=str(raw["name"]),
            title=str(raw["title"]),
            topic_root=str(raw["topic_root"]),
            settings={str(key): str(value) for key, value in dict(raw["settings"]).items()},
            files=tuple(str(name) for name in raw["files"]),
            exported_at=str(raw["exported_at"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        if isinstance(error, MoveError):
            raise
        raise MoveError(f"the archive's manifest cannot be read ({error})") from None
    problem = tenant_name_problem(manifest.name)
    if problem is not None:
        raise MoveError(problem)
    if not manifest.topic_root.endswith(f"@{manifest.name}") or any(c in manifest.topic_root for c in "/+#\n\r\0 "):
        raise MoveError(f"the archive's topic root {manifest.topic_root[:80]!r} is not one of tenant {manifest.name}")
    for key, value in manifest.settings.items():
        if not key.startswith("SUITCASE_") or not key.replace("_", "").isalnum() or any(c in value for c in "\n\r\0"):
            raise MoveError(f"the archive's setting {key[:60]!r} cannot be taken")
    for name in manifest.files:
        _check_path(name)
    return manifest


def _check_path(name: str) -> None:
    path = PurePosixPath(name)
    parts = path.parts
    if (
        not parts
        or path.is_absolute()
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
        or parts[0] in LEFT_BEHIND
        or "\\" in name
        or len(name) > 200
    ):
        raise MoveError(f"the archive names a file it may not: {name[:80]!r}")


def _read(archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str, limit: int) -> bytes:
    member = members.get(name)
    if member is None or not member.isfile():
        raise MoveError(f"the archive has no plain file {name[:80]!r}")
    if member.size > limit:
        raise MoveError(f"the archive is larger than {MAX_ARCHIVE_BYTES // 2**20} MiB")
    extracted = archive.extractfile(member)
    if extracted is None:
        raise MoveError(f"the archive's {name[:80]!r} cannot be read")
    with extracted:
        return extracted.read()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now(UTC).timestamp())
    archive.addfile(info, io.BytesIO(data))


def _without_sessions(path: Path) -> bytes:
    """A copy of the console's accounts database with no login session in it: a session of the old
    installation's must not be one at the new (staff log in again there, with the same passwords)."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / ACCOUNTS_FILE
        source, target = sqlite3.connect(f"file:{path}?mode=ro", uri=True), sqlite3.connect(copy)
        try:
            source.backup(target)
            tables = {row[0] for row in target.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "sessions" in tables:
                target.execute("DELETE FROM sessions")
                target.commit()
            target.execute("VACUUM")  # the deleted rows' pages, tokens' hashes among them, go too
        finally:
            source.close()
            target.close()
        return copy.read_bytes()
