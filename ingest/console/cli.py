"""`suitcase users add|list|remove|password|role`: the console's accounts (SUITCASE_ACCOUNTS_FILE).

A password is made fresh and shown once, unless one is given on standard input (``--password-stdin``);
it is never taken from a flag, where it would stay in the shell's history and the process list.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from iot_suitcase.ingest.console.accounts import AccountError, Accounts, Role
from iot_suitcase.ingest.console.settings import ConsoleSettings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("users", help="console accounts: add, list, remove, new password, role")
    sub = parser.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--accounts-file", type=Path, help="default: SUITCASE_ACCOUNTS_FILE (var/accounts.sqlite3)")
    secret = argparse.ArgumentParser(add_help=False)
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input (12 characters or more)"
    )
    roles = [role.value for role in Role]

    add = sub.add_parser(
        "add",
        parents=[common, secret],
        help="add an account; its password is shown once",
        description="Roles: viewer (sees), operator (adds devices, issues credentials, takes waiting messages "
        "in), admin (manages accounts).",
    )
    add.add_argument("name")
    add.add_argument("--role", choices=roles, default=Role.VIEWER.value, help="default viewer")
    add.set_defaults(handler=_add)
    listing = sub.add_parser("list", parents=[common], help="list the accounts and their roles")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=_list)
    remove = sub.add_parser("remove", parents=[common], help="remove an account and end its sessions")
    remove.add_argument("name")
    remove.set_defaults(handler=_remove)
    password = sub.add_parser(
        "password", parents=[common, secret], help="give an account a new password (shown once); ends its sessions"
    )
    password.add_argument("name")
    password.set_defaults(handler=_password)
    role = sub.add_parser("role", parents=[common], help="change an account's role; ends its sessions")
    role.add_argument("name")
    role.add_argument("role", choices=roles)
    role.set_defaults(handler=_role)


def _accounts(args: argparse.Namespace) -> Accounts:
    return Accounts(args.accounts_file or ConsoleSettings().accounts_file)


def _given_password(args: argparse.Namespace) -> str | None:
    return sys.stdin.readline().rstrip("\r\n") if args.password_stdin else None


def _report(action: str, name: str, password: str, given: str | None) -> None:
    if given is None:
        print(f"{action} {name!r}; its password, shown only now: {password}")
    else:
        print(f"{action} {name!r} with the password given")


def _fail(error: AccountError) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 1


def _add(args: argparse.Namespace) -> int:
    given = _given_password(args)
    try:
        password = _accounts(args).add(args.name, Role(args.role), given)
    except AccountError as error:
        return _fail(error)
    _report(f"added {args.role}", args.name, password, given)
    return 0


def _list(args: argparse.Namespace) -> int:
    for account in _accounts(args).list():
        created = datetime.fromtimestamp(account.created, UTC).isoformat(timespec="seconds")
        if args.json:
            print(json.dumps({"name": account.name, "role": account.role.value, "created": created}))
        else:
            print(f"{account.name:<24} {account.role.value:<9} created {created}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    try:
        _accounts(args).remove(args.name)
    except AccountError as error:
        return _fail(error)
    print(f"removed {args.name!r}; its sessions ended")
    return 0


def _password(args: argparse.Namespace) -> int:
    given = _given_password(args)
    try:
        password = _accounts(args).set_password(args.name, given)
    except AccountError as error:
        return _fail(error)
    _report("new password for", args.name, password, given)
    return 0


def _role(args: argparse.Namespace) -> int:
    try:
        _accounts(args).set_role(args.name, Role(args.role))
    except AccountError as error:
        return _fail(error)
    print(f"{args.name!r} is now {args.role}; its sessions ended")
    return 0
