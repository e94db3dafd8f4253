"""Device credentials: an MQTT password and an HTTP API key per device, stored only as hashes.

The plaintext is shown once, when it is issued or rotated. The store is a YAML file readable by its
owner only (0600), separate from the registry, so the registry can be versioned and shared freely.
From it the project writes Mosquitto's password and ACL files.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from iot_suitcase.devices.credentials.mosquitto import (
    broker_user,
    device_acl,
    hash_password,
    password_file,
    service_acl,
    write_atomically,
)
from iot_suitcase.devices.formats.base import network_prefix
from iot_suitcase.devices.formats.tts import pubsub_topic
from iot_suitcase.devices.reading import check_device_id, device_id_problem

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
    """A service account of the broker that may write the given topic filters (its password, in clear)."""

    password: str
    topics: tuple[str, ...]


# A network server's MQTT integration publishes every device's events of its applications: only these topics.
# ChirpStack v4's default event topic is application/{{application_id}}/device/{{dev_eui}}/event/{{event}}; the
# ingest service subscribes to the `up` events alone, so the others (join, status, ...) reach nobody. The Things
# Stack's Pub/Sub integration publishes an application's uplinks on one topic, which carries the integration's
# name: one account cannot write another's.
INTEGRATION_KINDS = {"chirpstack": "ChirpStack", "tts": "The Things Stack"}  # kind: its product's name


def integration_topics(kind: str, name: str, prefix: str = "") -> tuple[str, ...]:
    """The topic filters a network server's account may publish on (``prefix``: its scope's, see
    ``network_prefix``)."""
    if kind == "chirpstack":
        return (f"{prefix}application/+/device/+/event/+",)
    if kind == "tts":
        return (prefix + pubsub_topic(name),)
    raise ValueError(f"unknown network server {kind!r}: known are {', '.join(INTEGRATION_KINDS)}")


INTEGRATION_USER_PREFIX = "suitcase-ns-"
_INTEGRATION_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


class IntegrationSecrets(BaseModel):
    """A network server's broker account: which kind, its password's hash, since when."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    mqtt_password_hash: str
    issued_at: datetime


def integration_user(name: str, tenant: str | None = None) -> str:
    """A network server's broker account; a tenant's carries its name, as its devices' do."""
    return broker_user(f"{INTEGRATION_USER_PREFIX}{name}", tenant)


def _api_key_digest(api_key: str) -> str:
    # API keys are 256-bit random tokens: a plain SHA-256 cannot be brute-forced, and checks stay cheap.
    return hashlib.sha256(api_key.encode()).hexdigest()


class CredentialStore:
    """Load, issue, rotate, revoke, check; ``save`` writes the file atomically."""

    def __init__(self, path: Path, *, tenant: str | None = None) -> None:
        self.path = path
        self.tenant = tenant  # a tenant's devices log in as <device>@<tenant>
        self.devices: dict[str, DeviceSecrets] = {}
        self.integrations: dict[str, IntegrationSecrets] = {}
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            self.devices = {
                str(device): DeviceSecrets.model_validate(entry) for device, entry in data.get("devices", {}).items()
            }
            self.integrations = {
                str(name): IntegrationSecrets.model_validate(entry)
                for name, entry in data.get("integrations", {}).items()
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
        return IssuedCredentials(device_id, broker_user(device_id, self.tenant), password, api_key)

    def add_integration(self, kind: str, name: str) -> IssuedCredentials:
        """A broker account for a network server's MQTT integration (a new password if it has one already)."""
        integration_topics(kind, name)  # a known kind
        if not _INTEGRATION_NAME.fullmatch(name):
            raise ValueError(f"{name!r}: a name is 1-40 of a-z 0-9 - and starts with a letter or digit")
        password = secrets.token_urlsafe(24)
        self.integrations[name] = IntegrationSecrets(
            kind=kind, mqtt_password_hash=hash_password(password), issued_at=datetime.now(UTC)
        )
        return IssuedCredentials(name, integration_user(name, self.tenant), password, "")

    def remove_integration(self, name: str) -> bool:
        return self.integrations.pop(name, None) is not None

    def revoke(self, device_id: str) -> bool:
        return self.devices.pop(device_id, None) is not None

    def check_api_key(self, device_id: str, api_key: str) -> bool:
        entry = self.devices.get(device_id)
        if entry is None:
            return False
        return hmac.compare_digest(entry.api_key_sha256, _api_key_digest(api_key))

    def save(self) -> None:
        data: dict[str, object] = {"devices": {d: s.model_dump(mode="json") for d, s in sorted(self.devices.items())}}
        if self.integrations:
            data["integrations"] = {n: s.model_dump(mode="json") for n, s in sorted(self.integrations.items())}
        write_atomically(self.path, _HEADER + yaml.safe_dump(data, sort_keys=True), mode=0o600)

    def broker_files(
        self,
        *,
        topic_root: str,
        ingest_user: str,
        ingest_password: str,
        publishers: Mapping[str, ServicePublisher] | None = None,
        ingest_reads: Sequence[str] = ("#",),
    ) -> BrokerFileTexts:
        """Mosquitto's password and ACL files of both listeners, as text (nothing is written here).

        ``publishers`` are service accounts that write on named topic filters for many devices at once (the
        demo simulator, a network server's MQTT integration), keyed by user name. An entry whose device id
        the broker cannot carry (a store written by an older release) is left out and named in ``skipped``,
        so it never blocks or alters another device. A tenant's devices log in as ``<device>@<tenant>``;
        ``ingest_reads`` are the topic filters its ingest service may read.
        """
        users: dict[str, str] = {}
        devices: dict[str, str] = {}
        skipped = []
        for device, entry in sorted(self.devices.items()):
            if device_id_problem(device) is None:
                user = broker_user(device, self.tenant)
                users[user], devices[user] = entry.mqtt_password_hash, device
            else:
                skipped.append(device)
        topics: dict[str, tuple[str, ...]] = {}

        def add_service(user: str, password_hash: str, filters: tuple[str, ...]) -> None:
            if user in users or user == ingest_user:
                raise ValueError(f"the service user {user!r} cannot also be a device id or another service's user")
            users[user], topics[user] = password_hash, filters

        for user, publisher in (publishers or {}).items():
            add_service(user, hash_password(publisher.password), publisher.topics)
        prefix = network_prefix(topic_root, self.tenant)
        for name, integration in sorted(self.integrations.items()):
            filters = integration_topics(integration.kind, name, prefix)
            add_service(integration_user(name, self.tenant), integration.mqtt_password_hash, filters)
        return BrokerFileTexts(
            password=password_file(users),
            acl=device_acl(topic_root=topic_root, devices=devices, publishers=topics),
            service_password=password_file({ingest_user: hash_password(ingest_password)}),
            service_acl=service_acl(ingest_user=ingest_user, reads=ingest_reads),
            skipped=tuple(skipped),
        )


@dataclass(frozen=True, slots=True)
class BrokerFileTexts:
    """The broker's four files, rendered; ``skipped``: stored devices left out (ids the broker cannot carry)."""

    password: str
    acl: str
    service_password: str
    service_acl: str
    skipped: tuple[str, ...] = ()
