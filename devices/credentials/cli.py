"""`suitcase devices credentials ID`: issue or rotate a device's MQTT password and API key."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from iot_suitcase.devices.credentials.issuing import (
    PASTE_WHERE,
    add_integration,
    commit,
    integration_settings,
    issue_credentials,
    open_store,
    reload_broker,
    remove_integration,
)
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.credentials.store import (
    INTEGRATION_KINDS,
    IssuedCredentials,
    integration_topics,
    integration_user,
)
from iot_suitcase.devices.formats.base import network_prefix
from iot_suitcase.devices.registry import RegistryFile
from iot_suitcase.devices.settings import BrokerSettings

Handler = Callable[[argparse.Namespace], int]


def add_command(
    subcommands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
    guarded: Callable[[Handler], Handler],
) -> None:
    parser = subcommands.add_parser(
        "credentials",
        parents=[common],
        help="issue or rotate a device's MQTT password and API key (shown once)",
        description="Issues new credentials for a registered device (the old ones stop working), stores only "
        "their hashes (SUITCASE_CREDENTIALS_FILE), and rewrites Mosquitto's password and ACL files "
        "(SUITCASE_MOSQUITTO_PASSWORD_FILE, SUITCASE_MOSQUITTO_ACL_FILE). The broker picks them up on SIGHUP: "
        "--reload sends it (pid from SUITCASE_MOSQUITTO_PID_FILE); with docker compose: "
        "`docker compose kill -s HUP mosquitto`.",
    )
    parser.add_argument("id", help="the device id")
    parser.add_argument("--json", action="store_true", help="print the credentials as one JSON object")
    parser.add_argument("--reload", action="store_true", help="send SIGHUP to the local broker afterwards")
    parser.add_argument(
        "--revoke", action="store_true", help="take the device's credentials away instead (also for removed devices)"
    )
    parser.set_defaults(handler=guarded(run_credentials))


def register_integrations(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "integrations",
        help="broker accounts for LoRaWAN network servers (ChirpStack, The Things Stack)",
        description="A network server's MQTT integration publishes its devices' uplinks to this platform's "
        "broker with an account of its own, which may publish only the network server's event topics.",
    )
    sub = parser.add_subparsers(dest="integrations_command", required=True, metavar="COMMAND")
    add = sub.add_parser(
        "add",
        help="make (or renew) a network server's account and print the settings to paste (password shown once)",
    )
    add.add_argument(
        "kind",
        choices=list(INTEGRATION_KINDS),
        help="the network server: chirpstack, or tts (The Things Stack's Pub/Sub)",
    )
    add.add_argument("name", help="a name of your choice: a-z 0-9 -, e.g. the city's ChirpStack")
    add.add_argument(
        "--broker-host", default="<this server's address>", help="the broker as the network server reaches it"
    )
    add.add_argument("--reload", action="store_true", help="send SIGHUP to the local broker afterwards")
    add.set_defaults(handler=run_add_integration)
    listing = sub.add_parser("list", help="the network servers' accounts")
    listing.set_defaults(handler=run_list_integrations)
    remove = sub.add_parser("remove", help="take a network server's account away")
    remove.add_argument("name")
    remove.add_argument("--reload", action="store_true", help="send SIGHUP to the local broker afterwards")
    remove.set_defaults(handler=run_remove_integration)


def _initialised(settings: SecuritySettings) -> bool:
    """Whether `suitcase init` wrote the broker's own accounts, which every broker file is made with; if not,
    say so."""
    if settings.mqtt_password is None:
        print("error: the ingest service's MQTT password is not set: run `suitcase init` first (it writes .env)")
        return False
    return True


def run_add_integration(args: argparse.Namespace) -> int:
    settings = SecuritySettings()
    if not _initialised(settings):
        return 1
    try:
        issued, warnings = add_integration(args.kind, args.name, settings)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(warning, file=sys.stderr)
    prefix = network_prefix(settings.topic_root, settings.tenant)
    topics = ", ".join(integration_topics(args.kind, args.name, prefix))
    print(f"# {args.kind} {args.name}: its broker account may publish only {topics}")
    print(f"# The password is shown only now. {PASTE_WHERE[args.kind]}")
    port = BrokerSettings().mqtt_port
    print(integration_settings(args.kind, args.name, issued, args.broker_host, port, prefix=prefix))
    if args.reload:
        print(reload_broker(settings))
    return 0


def run_list_integrations(_args: argparse.Namespace) -> int:
    settings = SecuritySettings()
    for name, entry in sorted(open_store(settings).integrations.items()):
        issued = entry.issued_at.isoformat(timespec="seconds")
        print(f"{name:<24} {entry.kind:<11} user {integration_user(name, settings.tenant):<32} since {issued}")
    return 0


def run_remove_integration(args: argparse.Namespace) -> int:
    settings = SecuritySettings()
    if not remove_integration(args.name, settings):
        print(f"error: no network server {args.name!r} in {settings.credentials_file}", file=sys.stderr)
        return 1
    print(f"removed the broker account of {args.name}")
    if args.reload:
        print(reload_broker(settings))
    return 0


def run_credentials(args: argparse.Namespace) -> int:
    settings = SecuritySettings()
    if not _initialised(settings):
        return 1
    store = open_store(settings)
    if args.revoke:
        if not store.revoke(args.id):
            print(f"error: {args.id!r} has no credentials in {settings.credentials_file}", file=sys.stderr)
            return 1
        commit(store, settings)
        print(f"revoked the credentials of {args.id}")
        if args.reload:
            print(reload_broker(settings))
        return 0
    issued, warnings = issue_credentials(args.id, RegistryFile(args.registry).load(), settings)
    for warning in warnings:
        print(warning, file=sys.stderr)
    print(json.dumps(_as_dict(issued)) if args.json else _as_text(issued, settings))
    if args.reload:
        print(reload_broker(settings))
    return 0


def _as_dict(issued: IssuedCredentials) -> dict[str, str]:
    return {
        "device_id": issued.device_id,
        "mqtt_username": issued.mqtt_username,
        "mqtt_password": issued.mqtt_password,
        "api_key": issued.api_key,
    }


def _as_text(issued: IssuedCredentials, settings: SecuritySettings) -> str:
    return "\n".join(
        [
            f"credentials for {issued.device_id} (shown once: store them in the device now)",
            f"  MQTT username  {issued.mqtt_username}",
            f"  MQTT password  {issued.mqtt_password}",
            f"  MQTT topic     {settings.topic_root}/{issued.device_id}/up",
            f"  HTTP API key   {issued.api_key}",
            f"  HTTP endpoint  POST /v1/devices/{issued.device_id}/readings  (Authorization: Bearer <API key>)",
        ]
    )
