"""Console accounts: hashes only, roles, the last admin kept, sessions that end."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from iot_suitcase.ingest.console.accounts import SESSION_MAX_S, AccountError, Accounts, Role


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_file_holds_an_argon2id_hash_and_is_private(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "accounts.sqlite3")
    password = accounts.add("ida", Role.OPERATOR)
    assert len(password) >= 20
    raw = (tmp_path / "accounts.sqlite3").read_bytes()
    assert password.encode() not in raw
    [stored] = sqlite3.connect(tmp_path / "accounts.sqlite3").execute("SELECT hash FROM accounts").fetchone()
    assert stored.startswith("$argon2id$")
    assert stat.S_IMODE((tmp_path / "accounts.sqlite3").stat().st_mode) == 0o600
    assert accounts.verify("ida", password) == accounts.get("ida")
    assert accounts.verify("ida", password + "x") is None
    assert accounts.verify("IDA", password) is not None, "names are not case sensitive"
    assert accounts.verify("nobody", password) is None


def test_names_passwords_and_duplicates_are_checked(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "a.sqlite3")
    accounts.add("ida", Role.VIEWER)
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("Ida", Role.ADMIN)
    with pytest.raises(AccountError, match="at least 12"):
        accounts.add("bo", Role.VIEWER, "short")
    for bad in ("", "-x", "a b", "x" * 65, "<script>"):
        with pytest.raises(AccountError):
            accounts.add(bad, Role.VIEWER)


def test_roles_allow_what_the_roles_before_them_allow() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR)
    assert Role.ADMIN.allows(Role.VIEWER)
    assert Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.OPERATOR.allows(Role.ADMIN)
    assert not Role.VIEWER.allows(Role.OPERATOR)


def test_the_last_admin_cannot_be_removed_or_demoted(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "a.sqlite3")
    assert accounts.first_admin() is not None
    assert accounts.first_admin() is None, "only when there is no admin"
    with pytest.raises(AccountError, match="last admin"):
        accounts.remove("admin")
    with pytest.raises(AccountError, match="last admin"):
        accounts.set_role("admin", Role.VIEWER)
    accounts.add("ida", Role.ADMIN)
    accounts.set_role("admin", Role.VIEWER)
    accounts.remove("admin")
    assert [a.name for a in accounts.list()] == ["ida"]
    with pytest.raises(AccountError, match="no account"):
        accounts.remove("admin")


def test_sessions_end_when_idle_too_long_after_a_week_and_on_password_change(tmp_path: Path) -> None:
    clock = Clock()
    accounts = Accounts(tmp_path / "a.sqlite3", idle_s=3600, clock=clock)
    accounts.add("ida", Role.VIEWER)
    account = accounts.get("ida")
    assert account is not None
    token, session = accounts.open_session(account)
    assert accounts.session(token) == session
    assert token.encode() not in (tmp_path / "a.sqlite3").read_bytes(), "only the token's hash is kept"
    clock.now += 3599
    assert accounts.session(token) is not None, "used within the hour: still open, and its idle time restarts"
    clock.now += 3599
    assert accounts.session(token) is not None
    clock.now += 3601
    assert accounts.session(token) is None, "idle for more than an hour"

    token, _ = accounts.open_session(account)
    opened = clock.now
    for _hour in range(SESSION_MAX_S // 3000 + 1):
        clock.now += 3000
        if accounts.session(token) is None:
            break
    assert SESSION_MAX_S <= clock.now - opened < SESSION_MAX_S + 3000, "a week is the most, however active"
    assert accounts.session(token) is None

    token, _ = accounts.open_session(account)
    accounts.set_password("ida")
    assert accounts.session(token) is None, "a new password ends the sessions"
    token, _ = accounts.open_session(account)
    accounts.set_role("ida", Role.OPERATOR)
    assert accounts.session(token) is None, "so does a new role"
    token, session = accounts.open_session(account)
    accounts.close_session(session)
    assert accounts.session(token) is None, "and the logout"
    assert accounts.session("") is None
    assert accounts.session("x" * 5000) is None
