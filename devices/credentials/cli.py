"""`suitcase devices credentials ID`: issue or rotate a device's MQTT password and API key."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from iot_suitcase.devices.credentials.issuing import commit, issue_credentials, reload_broker
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.credentials.store import CredentialStore, IssuedCredentials
from iot_suitcase.devices.registry import RegistryFile

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


def run_credentials(args: argparse.Namespace) -> int:
    settings = SecuritySettings()
    if settings.mqtt_password is None:
        print("error: the ingest service's MQTT password is not set: run `suitcase init` first (it writes .env)")
        return 1
    store = CredentialStore(settings.credentials_file)
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
