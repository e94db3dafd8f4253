"""Mosquitto's own password and ACL file formats, written atomically so a reload never sees half a file.

Password lines are ``user:$7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>``, the format of
Mosquitto 2's ``mosquitto_passwd``; Mosquitto reads the iteration count from each line, so we can afford
more rounds than its default of 101. Both files are re-read by Mosquitto on SIGHUP: no restart needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

ITERATIONS = 10_000
_SALT_BYTES = 12


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """Check a password against a Mosquitto ``$7$`` hash (the way the broker does)."""
    try:
        _, kind, iterations, salt, digest = hashed.split("$")
    except ValueError:
        return False
    if kind != "7":
        return False
    computed = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(computed, base64.b64decode(digest))


TENANT_SEPARATOR = "@"  # between a tenant's topic root and its name, and a device id and its tenant in user names


def broker_user(device_id: str, tenant: str | None) -> str:
    """The broker account of a device: its id, with its tenant's name after ``@`` for a tenant's device (no
    device id holds ``@``, so no other account can be it)."""
    return device_id if tenant is None else f"{device_id}{TENANT_SEPARATOR}{tenant}"


def password_file(users: Mapping[str, str]) -> str:
    """The password file for ``user -> $7$ hash``; user names may not contain ':' or line breaks."""
    for user in users:
        if not user or any(c in user for c in ":\n\r"):
            raise ValueError(f"user name {user!r} cannot be written to a Mosquitto password file")
    return "".join(f"{user}:{users[user]}\n" for user in sorted(users))


def device_acl(
    *, topic_root: str, devices: Mapping[str, str] | None = None, publishers: Mapping[str, Sequence[str]] | None = None
) -> str:
    """The device listener's ACL: each device writes only under its own topic; service accounts that publish
    for many devices (the demo fleet, network servers) write their named topic filters; nobody reads.

    ``devices`` maps each device's broker account to its device id: a device writes ``<root>/<its id>/#``. One
    section per account rather than a ``%u`` pattern, because a pattern applies to every account: a tenant's
    device (``kit-1@aarhus``) would get a topic under the installation's own root, where its ingest service
    reads.
    """
    lines = ["# Written by iot-suitcase (suitcase init / suitcase devices credentials); edits are overwritten.", ""]
    for user, topics in sorted((publishers or {}).items()):
        lines += [f"user {user}", *(f"topic write {topic}" for topic in topics), ""]
    for user, device_id in sorted((devices or {}).items()):
        lines += [f"user {user}", f"topic write {topic_root}/{device_id}/#", ""]
    return "\n".join(lines)


def service_acl(*, ingest_user: str, reads: Sequence[str] = ("#",)) -> str:
    """The service listener's ACL: the ingest service reads its topics, and that is all it may do."""
    return "\n".join(
        [
            "# Written by iot-suitcase (suitcase init); edits are overwritten.",
            f"user {ingest_user}",
            *(f"topic read {topic}" for topic in reads),
            "",
        ]
    )


@dataclass(frozen=True, slots=True)
class Listener:
    """One Mosquitto listener: a port and an optional bind address."""

    port: int
    host: str | None = None

    def line(self) -> str:
        return f"listener {self.port}" + (f" {self.host}" if self.host else "")


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    """Where the broker reads its password and ACL files (paths as the broker sees them)."""

    password: PurePath
    acl: PurePath
    service_password: PurePath
    service_acl: PurePath


def listener_config(
    devices: Listener, service: Listener | None, files: BrokerFiles | None, *, message_size_limit: int
) -> str:
    """The listeners and access control of a broker the project configures (local stack, compose, tests).

    With ``files`` (after `suitcase init`): devices, the demo fleet and network servers log in on the device
    listener, where the broker replaces every client id with the account's name, so no account can take over
    another's session; the ingest service logs in on the service listener, whose password file holds only its
    account, and keeps the fixed client ids of its persistent sessions there. Without ``files`` the broker is
    open to anyone (a development stack before `suitcase init`): nothing protects sessions then.
    ``message_size_limit``: the broker refuses larger payloads (with a PUBACK error to MQTT v5 publishers), so
    a hostile device cannot push megabytes through to the service (0: no limit).
    """
    lines = [f"message_size_limit {message_size_limit}"] if message_size_limit else []
    if files is None:
        lines.append("allow_anonymous true")
        lines += [devices.line()] + ([service.line()] if service is not None else [])
        return "\n".join(lines) + "\n"
    if service is None:
        raise ValueError("a secured broker needs a service listener for the ingest service")
    lines += [
        "per_listener_settings true",
        "# devices, the demo fleet, network servers: the account name is the client id",
        devices.line(),
        "allow_anonymous false",
        f"password_file {files.password}",
        f"acl_file {files.acl}",
        "use_username_as_clientid true",
        "# the ingest service only: its persistent sessions keep their fixed client ids",
        service.line(),
        "allow_anonymous false",
        f"password_file {files.service_password}",
        f"acl_file {files.service_acl}",
    ]
    return "\n".join(lines) + "\n"


def tls_listener_config(port: int, files: BrokerFiles, certificates: PurePath) -> str:
    """A TLS listener for devices, with the device listener's accounts and the certificate files in
    ``certificates`` (``ca.crt``, ``server.crt``, ``server.key``: `suitcase init` makes them)."""
    return "\n".join(
        [
            "# devices over TLS: the same accounts and rules as the device listener",
            f"listener {port}",
            "allow_anonymous false",
            f"password_file {files.password}",
            f"acl_file {files.acl}",
            "use_username_as_clientid true",
            f"cafile {certificates / 'ca.crt'}",
            f"certfile {certificates / 'server.crt'}",
            f"keyfile {certificates / 'server.key'}",
            "require_certificate false",
            "",
        ]
    )


def write_atomically(path: Path, text: str | bytes, *, mode: int = 0o600) -> None:
    """Write a temp file beside ``path``, fsync it, rename it over ``path``, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(text.encode() if isinstance(text, str) else text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
