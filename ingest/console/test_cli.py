"""`suitcase users` and the first admin of `suitcase init`, as a person at the terminal uses them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from iot_suitcase.ingest.console.accounts import Accounts, Role


def suitcase(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iot_suitcase", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        timeout=60,
        check=False,
    )


def test_init_makes_the_first_admin_once_and_shows_its_password_once(tmp_path: Path) -> None:
    made = suitcase("init", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    found = re.search(r"log in as 'admin' with the password (\S+) ", made.stdout)
    assert found, made.stdout
    accounts = Accounts(tmp_path / "var" / "accounts.sqlite3")
    assert accounts.verify("admin", found.group(1)) is not None
    again = suitcase("init", "--force", cwd=tmp_path)
    assert again.returncode == 0
    assert "has an admin already" in again.stdout
    assert found.group(1) not in again.stdout
    assert [(a.name, a.role) for a in accounts.list()] == [("admin", Role.ADMIN)]


def test_users_add_list_password_role_remove(tmp_path: Path) -> None:
    file = ["--accounts-file", str(tmp_path / "accounts.sqlite3")]
    accounts = Accounts(tmp_path / "accounts.sqlite3")
    added = suitcase("users", "add", "ida", "--role", "operator", *file, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    shown = added.stdout.rsplit(": ", 1)[1].strip()
    assert accounts.verify("ida", shown) is not None, "the password shown is the one that works"
    given = suitcase("users", "add", "bo", "--password-stdin", *file, cwd=tmp_path, stdin="a long pass phrase\n")
    assert given.returncode == 0
    assert "a long pass phrase" not in given.stdout
    assert accounts.verify("bo", "a long pass phrase") is not None
    short = suitcase("users", "add", "cy", "--password-stdin", *file, cwd=tmp_path, stdin="short\n")
    assert (short.returncode, "at least 12" in short.stderr) == (1, True)
    assert suitcase("users", "add", "ida", *file, cwd=tmp_path).returncode == 1, "no second ida"

    listed = suitcase("users", "list", "--json", *file, cwd=tmp_path).stdout.splitlines()
    assert [(line.split('"name": "')[1].split('"')[0]) for line in listed] == ["bo", "ida"]

    renewed = suitcase("users", "password", "ida", *file, cwd=tmp_path)
    assert renewed.returncode == 0
    assert accounts.verify("ida", shown) is None
    assert accounts.verify("ida", renewed.stdout.rsplit(": ", 1)[1].strip()) is not None
    assert suitcase("users", "role", "ida", "admin", *file, cwd=tmp_path).returncode == 0
    assert accounts.get("ida") is not None
    assert accounts.get("ida").role is Role.ADMIN  # type: ignore[union-attr]
    last = suitcase("users", "remove", "ida", *file, cwd=tmp_path)
    assert (last.returncode, "last admin" in last.stderr) == (1, True)
    assert suitcase("users", "remove", "bo", *file, cwd=tmp_path).returncode == 0
    assert [a.name for a in accounts.list()] == ["ida"]
