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
from collections.abc import Mapping
from pathlib import Path

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


def password_file(users: Mapping[str, str]) -> str:
    """The password file for ``user -> $7$ hash``; user names may not contain ':' or line breaks."""
    for user in users:
        if not user or any(c in user for c in ":\n\r"):
            raise ValueError(f"user name {user!r} cannot be written to a Mosquitto password file")
    return "".join(f"{user}:{users[user]}\n" for user in sorted(users))


def acl_file(*, topic_root: str, ingest_user: str, network_servers: Mapping[str, list[str]] | None = None) -> str:
    """Devices publish only under their own topic; the ingest service reads everything; nothing else.

    Mosquitto substitutes ``%u`` with the connecting user's name, and each device's user name is its device
    id, so one pattern pins every device to ``<root>/<its id>/#``. Network servers (ChirpStack, The Things
    Stack bridges) get write access to their integration topics by name.
    """
    lines = [
        "# Written by iot-suitcase (suitcase devices credentials); edits are overwritten.",
        f"user {ingest_user}",
        "topic read #",
        "",
    ]
    for user, topics in sorted((network_servers or {}).items()):
        lines += [f"user {user}", *(f"topic write {topic}" for topic in topics), ""]
    lines += ["# every device: its own topics only", f"pattern write {topic_root}/%u/#", ""]
    return "\n".join(lines)


def write_atomically(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Write a temp file beside ``path``, fsync it, rename it over ``path``, fsync the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
