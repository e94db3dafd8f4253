"""`suitcase devices credentials ID`: issue or rotate a device's MQTT password and API key."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable

from iot_suitcase.devices.credentials.mosquitto import write_atomically
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.credentials.store import BrokerFileTexts, CredentialStore, IssuedCredentials, ServicePublisher
from iot_suitcase.devices.formats import FormatContext, publish_filters
from iot_suitcase.devices.registry import RegistryFile
from iot_suitcase.devices.settings import BrokerFileSettings

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
    RegistryFile(args.registry).load().require(args.id)
    issued = store.issue(args.id)
    for warning in commit(store, settings):
        print(warning, file=sys.stderr)
    print(json.dumps(_as_dict(issued)) if args.json else _as_text(issued, settings))
    if args.reload:
        print(reload_broker(settings))
    return 0


def commit(store: CredentialStore, settings: SecuritySettings) -> list[str]:
    """Save the credential store and the broker files made from it, all or nothing as far as files allow.

    Everything is rendered (and so checked) before anything is written; then the store (the source of
    truth), then the broker files, each atomically. Returns warnings: stored devices the broker files leave
    out because their ids are not valid any more (remove or rename them).
    """
    if settings.mqtt_password is None:
        raise ValueError("the ingest service's MQTT password is not set: run `suitcase init` first")
    publishers = {}
    if settings.simulator_mqtt_password is not None:
        publishers[settings.simulator_mqtt_username] = ServicePublisher(
            settings.simulator_mqtt_password.get_secret_value(), simulator_topics(settings.topic_root)
        )
    texts = store.broker_files(
        topic_root=settings.topic_root,
        ingest_user=settings.mqtt_username,
        ingest_password=settings.mqtt_password.get_secret_value(),
        publishers=publishers,
    )
    store.save()
    write_broker_files(texts, settings)
    return [
        f"warning: {device!r} in {settings.credentials_file} is not a valid device id any more; the broker files "
        "leave it out (`suitcase devices credentials --revoke` it)"
        for device in texts.skipped
    ]


def write_broker_files(texts: BrokerFileTexts, settings: BrokerFileSettings) -> None:
    # 0644: Mosquitto re-reads them as its own unprivileged user on SIGHUP (in docker: another uid).
    # They hold salted PBKDF2 hashes of random passwords and topic rules, nothing usable in clear.
    for path, text in (
        (settings.mosquitto_password_file, texts.password),
        (settings.mosquitto_acl_file, texts.acl),
        (settings.mosquitto_service_password_file, texts.service_password),
        (settings.mosquitto_service_acl_file, texts.service_acl),
    ):
        write_atomically(path, text, mode=0o644)


def simulator_topics(topic_root: str) -> tuple[str, ...]:
    """What the demo fleet publishes: every topic a device or network server may publish on."""
    return tuple(publish_filters(FormatContext(topic_root=topic_root)))


def reload_broker(settings: SecuritySettings) -> str:
    try:
        pid = int(settings.mosquitto_pid_file.read_text().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as error:
        return f"could not signal the broker ({error}); reload it yourself (SIGHUP)"
    return f"sent SIGHUP to the broker (pid {pid}): the new credentials work now, the old ones no longer"


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
