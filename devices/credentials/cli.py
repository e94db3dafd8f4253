"""`suitcase devices credentials ID`: issue or rotate a device's MQTT password and API key."""

from __future__ import annotations

import argparse
import json
import os
import signal
from collections.abc import Callable

from devices.credentials.settings import SecuritySettings
from devices.credentials.store import CredentialStore, IssuedCredentials, ServicePublisher
from devices.formats.chirpstack.decoder import TOPIC_FILTER as CHIRPSTACK_UPLINKS
from devices.formats.tts.decoder import TOPIC_FILTER as TTS_UPLINKS
from devices.registry import RegistryFile

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
    parser.set_defaults(handler=guarded(run_credentials))


def run_credentials(args: argparse.Namespace) -> int:
    RegistryFile(args.registry).load().require(args.id)
    settings = SecuritySettings()
    if settings.mqtt_password is None:
        print("error: the ingest service's MQTT password is not set: run `suitcase init` first (it writes .env)")
        return 1
    store = CredentialStore(settings.credentials_file)
    issued = store.issue(args.id)
    store.save()
    write_broker_files(store, settings)
    print(json.dumps(_as_dict(issued)) if args.json else _as_text(issued, settings))
    if args.reload:
        print(reload_broker(settings))
    return 0


def write_broker_files(store: CredentialStore, settings: SecuritySettings) -> None:
    assert settings.mqtt_password is not None
    publishers = {}
    if settings.simulator_mqtt_password is not None:
        publishers[settings.simulator_mqtt_username] = ServicePublisher(
            settings.simulator_mqtt_password.get_secret_value(), simulator_topics(settings.topic_root)
        )
    store.write_broker_files(
        password_path=settings.mosquitto_password_file,
        acl_path=settings.mosquitto_acl_file,
        topic_root=settings.topic_root,
        ingest_user=settings.mqtt_username,
        ingest_password=settings.mqtt_password.get_secret_value(),
        publishers=publishers,
    )


def simulator_topics(topic_root: str) -> tuple[str, ...]:
    """What the demo fleet publishes: native, SenML, single-value and sensor.community topics under the
    root, and the uplink topics of the ChirpStack and The Things Stack integrations."""
    return (f"{topic_root}/#", CHIRPSTACK_UPLINKS, TTS_UPLINKS)


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
