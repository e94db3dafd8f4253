"""Console accounts and their sessions, in one SQLite file that every ingest worker and `suitcase users` share.

Passwords are kept only as Argon2id hashes (argon2-cffi, RFC 9106's low-memory profile). A session is a random
token in the browser's cookie; the file keeps only the token's SHA-256, so a copy of the file lets nobody in.
Changing a password, a role or removing an account ends that account's sessions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

FIRST_ADMIN = "admin"
MIN_PASSWORD_CHARS = 12
SESSION_MAX_S = 7 * 24 * 3600  # a login ends after a week, however active
_TOUCH_EVERY_S = 60.0  # a session's last use is written at most once a minute
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_HASHER = PasswordHasher()
_UNKNOWN_ACCOUNT_HASH = _HASHER.hash(secrets.token_urlsafe(16))  # checked when the name is unknown: same cost

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    created REAL NOT NULL,
    language TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    seen REAL NOT NULL
);
"""


class Role(StrEnum):
    """What an account may do; each role may do all the roles before it may."""

    VIEWER = "viewer"  # sees devices, values, rejects
    OPERATOR = "operator"  # adds devices, issues credentials, takes waiting messages in
    ADMIN = "admin"  # manages accounts

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


class AccountError(ValueError):
    """An account operation that cannot be done; the message says why, in words for the person asking."""


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    role: Role
    created: float
    language: str | None = None  # the console's language this person chose; None: their browser's


@dataclass(frozen=True, slots=True)
class Session:
    account: Account
    csrf: str  # the token every form and script of this session sends back
    token_hash: str


def new_password() -> str:
    """A fresh password of 20 characters (120 random bits), shown once to the person it is for."""
    return secrets.token_urlsafe(15)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise AccountError(f"{name!r}: a name is 1-64 of A-Z a-z 0-9 . _ @ - and starts with a letter or digit")
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"a password has at least {MIN_PASSWORD_CHARS} characters")
    return password


class Accounts:
    """The accounts file. Every call opens its own connection, so threads and processes may share it."""

    def __init__(self, path: Path, *, idle_s: float = 12 * 3600, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.idle_s = idle_s
        self._clock = clock

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():  # created readable by its owner only: it holds the password hashes
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.executescript(_SCHEMA)
            yield db
        finally:
            db.close()

    # --- accounts -------------------------------------------------------------------------------------------
    def add(self, name: str, role: Role, password: str | None = None) -> str:
        """Add an account; return its password (the one given, or a fresh one to show once)."""
        password = check_password(password) if password is not None else new_password()
        with self._db() as db:
            try:
                db.execute(
                    "INSERT INTO accounts (name, role, hash, created) VALUES (?, ?, ?, ?)",
                    (check_name(name), role.value, _HASHER.hash(password), self._clock()),
                )
            except sqlite3.IntegrityError:
                raise AccountError(f"{name!r} exists already") from None
        return password

    def first_admin(self) -> str | None:
        """Make the first account, ``admin``, when nobody can manage accounts yet; return its password (to show
        once), or None when an admin exists."""
        if self.has_admin():
            return None
        return self.add(FIRST_ADMIN, Role.ADMIN)

    def get(self, name: str) -> Account | None:
        with self._db() as db:
            row = db.execute("SELECT name, role, created, language FROM accounts WHERE name = ?", (name,)).fetchone()
        return Account(row[0], Role(row[1]), row[2], row[3]) if row else None

    def list(self) -> list[Account]:
        with self._db() as db:
            rows = db.execute("SELECT name, role, created, language FROM accounts ORDER BY name").fetchall()
        return [Account(name, Role(role), created, language) for name, role, created, language in rows]

    def has_admin(self) -> bool:
        return any(account.role is Role.ADMIN for account in self.list())

    def set_password(self, name: str, password: str | None = None) -> str:
        """Give an account a new password (the one given, or a fresh one to show once) and end its sessions."""
        password = check_password(password) if password is not None else new_password()
        with self._db() as db:
            changed = db.execute("UPDATE accounts SET hash = ? WHERE name = ?", (_HASHER.hash(password), name))
            if not changed.rowcount:
                raise AccountError(f"no account {name!r}")
            db.execute("DELETE FROM sessions WHERE account = ?", (name,))
        return password

    def set_role(self, name: str, role: Role) -> None:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            self._keep_an_admin(db, name, role)
            db.execute("UPDATE accounts SET role = ? WHERE name = ?", (role.value, name))
            db.execute("DELETE FROM sessions WHERE account = ?", (name,))
            db.execute("COMMIT")

    def set_language(self, name: str, language: str | None) -> None:
        with self._db() as db:
            db.execute("UPDATE accounts SET language = ? WHERE name = ?", (language, name))

    def remove(self, name: str) -> None:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            self._keep_an_admin(db, name, None)
            db.execute("DELETE FROM accounts WHERE name = ?", (name,))  # its sessions go with it
            db.execute("COMMIT")

    @staticmethod
    def _keep_an_admin(db: sqlite3.Connection, name: str, new_role: Role | None) -> None:
        """Refuse a change that would leave nobody able to manage accounts."""
        row = db.execute("SELECT role FROM accounts WHERE name = ?", (name,)).fetchone()
        if row is None:
            db.execute("ROLLBACK")
            raise AccountError(f"no account {name!r}")
        admins = db.execute("SELECT count(*) FROM accounts WHERE role = ?", (Role.ADMIN.value,)).fetchone()[0]
        if row[0] == Role.ADMIN.value and new_role is not Role.ADMIN and admins == 1:
            db.execute("ROLLBACK")
            raise AccountError(f"{name!r} is the last admin: make another account admin first")

    def verify(self, name: str, password: str) -> Account | None:
        """The account when the password is right; None otherwise, at the same cost whether the name exists."""
        with self._db() as db:
            row = db.execute(
                "SELECT name, role, created, hash, language FROM accounts WHERE name = ?", (name,)
            ).fetchone()
        try:
            _HASHER.verify(row[3] if row else _UNKNOWN_ACCOUNT_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _HASHER.check_needs_rehash(row[3]):  # parameters raised since it was hashed
            with self._db() as db:
                db.execute("UPDATE accounts SET hash = ? WHERE name = ?", (_HASHER.hash(password), row[0]))
        return Account(row[0], Role(row[1]), row[2], row[4])

    # --- sessions -------------------------------------------------------------------------------------------
    def open_session(self, account: Account) -> tuple[str, Session]:
        """A new session: the token for the browser's cookie, and the session as the server knows it."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._clock()
        with self._db() as db:
            db.execute(
                "INSERT INTO sessions (token_hash, account, csrf, created, seen) VALUES (?, ?, ?, ?, ?)",
                (_token_hash(token), account.name, csrf, now, now),
            )
            db.execute("DELETE FROM sessions WHERE seen < ? OR created < ?", (now - self.idle_s, now - SESSION_MAX_S))
        return token, Session(account, csrf, _token_hash(token))

    def session(self, token: str) -> Session | None:
        """The live session of a cookie's token, or None (unknown, idle too long, or older than a week)."""
        if not token or len(token) > 100:
            return None
        now, token_hash = self._clock(), _token_hash(token)
        with self._db() as db:
            row = db.execute(
                "SELECT a.name, a.role, a.created, a.language, s.csrf, s.created, s.seen FROM sessions s "
                "JOIN accounts a ON a.name = s.account WHERE s.token_hash = ?",
                (token_hash,),
            ).fetchone()
            if row is None:
                return None
            name, role, account_created, language, csrf, created, seen = row
            if seen < now - self.idle_s or created < now - SESSION_MAX_S:
                db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
                return None
            if now - seen > _TOUCH_EVERY_S:
                db.execute("UPDATE sessions SET seen = ? WHERE token_hash = ?", (now, token_hash))
        return Session(Account(name, Role(role), account_created, language), csrf, token_hash)

    def close_session(self, session: Session) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (session.token_hash,))
