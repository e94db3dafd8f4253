"""Device credentials: an MQTT password and an HTTP API key per device, stored only as hashes.

The plaintext is shown once, when it is issued or rotated. The store is a YAML file readable by its
owner only (0600), separate from the registry, so the registry can be versioned and shared freely.
From it the project writes Mosquitto's password and ACL files.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from devices.credentials.mosquitto import acl_file, hash_password, password_file, write_atomically
from devices.reading import check_device_id

_HEADER = "# iot-suitcase device credentials: hashes only. Keep this file private (mode 0600).\n"


class DeviceSecrets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mqtt_password_hash: str
    api_key_sha256: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """What a device needs, in plaintext: shown once, never stored."""

    device_id: str
    mqtt_username: str
    mqtt_password: str
    api_key: str


@dataclass(frozen=True, slots=True)
class ServicePublisher:
    """A service account of the broker that may write the given topic filters."""

    password: str
    topics: tuple[str, ...]


def _api_key_digest(api_key: str) -> str:
    # API keys are 256-bit random tokens: a plain SHA-256 cannot be brute-forced, and checks stay cheap.
    return hashlib.sha256(api_key.encode()).hexdigest()


class CredentialStore:
    """Load, issue, rotate, revoke, check; ``save`` writes the file atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.devices: dict[str, DeviceSecrets] = {}
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            self.devices = {
                str(device): DeviceSecrets.model_validate(entry) for device, entry in data.get("devices", {}).items()
            }

    def issue(self, device_id: str) -> IssuedCredentials:
        """New credentials for a device (rotating any it had: the old ones stop working at the next reload)."""
        check_device_id(device_id)
        password = secrets.token_urlsafe(24)
        api_key = secrets.token_urlsafe(32)
        self.devices[device_id] = DeviceSecrets(
            mqtt_password_hash=hash_password(password),
            api_key_sha256=_api_key_digest(api_key),
            issued_at=datetime.now(UTC),
        )
        return IssuedCredentials(device_id, device_id, password, api_key)

    def revoke(self, device_id: str) -> bool:
        return self.devices.pop(device_id, None) is not None

    def check_api_key(self, device_id: str, api_key: str) -> bool:
        entry = self.devices.get(device_id)
        if entry is None:
            return False
        return hmac.compare_digest(entry.api_key_sha256, _api_key_digest(api_key))

    def save(self) -> None:
        data = {"devices": {d: s.model_dump(mode="json") for d, s in sorted(self.devices.items())}}
        write_atomically(self.path, _HEADER + yaml.safe_dump(data, sort_keys=True), mode=0o600)

    def write_broker_files(
        self,
        *,
        password_path: Path,
        acl_path: Path,
        topic_root: str,
        ingest_user: str,
        ingest_password: str,
        publishers: Mapping[str, ServicePublisher] | None = None,
    ) -> None:
        """Mosquitto's password file (every device, the ingest service, ``publishers``) and ACL file, atomically.

        ``publishers`` are service accounts that write on named topic filters for many devices at once
        (the demo simulator, a network server's MQTT integration), keyed by user name.
        """
        users = {device: entry.mqtt_password_hash for device, entry in self.devices.items()}
        services = [(ingest_user, ingest_password), *((user, p.password) for user, p in (publishers or {}).items())]
        for user, password in services:
            if user in users:
                raise ValueError(f"the service user {user!r} cannot also be a device id or another service's user")
            users[user] = hash_password(password)
        # 0644: Mosquitto re-reads them as its own unprivileged user on SIGHUP (in docker: another uid).
        # They hold salted PBKDF2 hashes of random passwords and topic rules, nothing usable in clear.
        write_atomically(password_path, password_file(users), mode=0o644)
        writers = {user: list(p.topics) for user, p in (publishers or {}).items()}
        acl = acl_file(topic_root=topic_root, ingest_user=ingest_user, network_servers=writers)
        write_atomically(acl_path, acl, mode=0o644)
