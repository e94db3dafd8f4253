"""Issuing a device's credentials and keeping the broker's files in step: one implementation behind
`suitcase devices credentials`, `suitcase init` and the console."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from iot_suitcase.devices.credentials.mosquitto import write_atomically
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.credentials.store import BrokerFileTexts, CredentialStore, IssuedCredentials, ServicePublisher
from iot_suitcase.devices.formats import FormatContext, publish_filters
from iot_suitcase.devices.formats.base import network_prefix
from iot_suitcase.devices.formats.tts import pubsub_topic
from iot_suitcase.devices.registry import Registry
from iot_suitcase.devices.settings import BrokerFileSettings


def issue_credentials(
    device_id: str, registry: Registry, settings: SecuritySettings
) -> tuple[IssuedCredentials, list[str]]:
    """New credentials for a registered device (its old ones stop working once the broker reloads), with
    the warnings of writing the broker files."""
    registry.require(device_id)
    store = open_store(settings)
    issued = store.issue(device_id)
    return issued, commit(store, settings)


def open_store(settings: SecuritySettings) -> CredentialStore:
    """The credential store of the installation, or of the tenant the settings are for."""
    return CredentialStore(settings.credentials_file, tenant=settings.tenant)


def add_integration(kind: str, name: str, settings: SecuritySettings) -> tuple[IssuedCredentials, list[str]]:
    """A network server's broker account (a new password for one that exists), and the broker files."""
    store = open_store(settings)
    issued = store.add_integration(kind, name)
    return issued, commit(store, settings)


def remove_integration(name: str, settings: SecuritySettings) -> bool:
    store = open_store(settings)
    if not store.remove_integration(name):
        return False
    commit(store, settings)
    return True


CHIRPSTACK_EVENT_TOPIC = "application/{{application_id}}/device/{{dev_eui}}/event/{{event}}"  # its default


# Where each network server takes its settings: the CLI says it, and the console, translated.
PASTE_WHERE = {
    "chirpstack": "Paste this into chirpstack.toml and restart ChirpStack.",
    "tts": "Enter this in The Things Stack's console: your application > Integrations > Pub/Subs > Add Pub/Sub.",
}


def integration_settings(
    kind: str, name: str, issued: IssuedCredentials, host: str, port: int, *, prefix: str = ""
) -> str:
    """What to give a network server's MQTT integration for it to publish uplinks to this platform's broker;
    ``prefix``: where its scope's network-server topics begin (a tenant's, under its root)."""
    if kind == "tts":
        return _tts_pubsub_settings(name, issued, host, port, prefix)
    return _chirpstack_settings(issued, host, port, prefix)


def _chirpstack_settings(issued: IssuedCredentials, host: str, port: int, prefix: str) -> str:
    """chirpstack.toml's MQTT integration section."""
    return "\n".join(
        [
            "[integration]",
            '  enabled = ["mqtt"]',
            "",
            "  [integration.mqtt]",
            f'    server = "tcp://{host}:{port}/"',
            "    json = true",
            f'    username = "{issued.mqtt_username}"',
            f'    password = "{issued.mqtt_password}"',
            f'    client_id = "{issued.mqtt_username}"',
            f'    event_topic = "{prefix}{CHIRPSTACK_EVENT_TOPIC}"',
        ]
    )


def _tts_pubsub_settings(name: str, issued: IssuedCredentials, host: str, port: int, prefix: str) -> str:
    """The fields of The Things Stack's MQTT Pub/Sub form; its topic is the base topic joined with the
    uplink message's sub-topic, which gives the one topic this account may publish on."""
    base_topic, _, sub_topic = (prefix + pubsub_topic(name)).rpartition("/")
    return "\n".join(
        [
            f"Pub/Sub ID:          {issued.mqtt_username}",
            "Pub/Sub format:      JSON",
            f"Base topic:          {base_topic}",
            "Provider:            MQTT",
            "Secure connection:   off",
            f"Server URL:          mqtt://{host}:{port}",
            f"Client ID:           {issued.mqtt_username}",
            f"Username:            {issued.mqtt_username}",
            f"Password:            {issued.mqtt_password}",
            "Subscribe QoS:       At least once",
            "Publish QoS:         At least once",
            f"Uplink message:      enabled, sub-topic {sub_topic}",
            "Other message types: off",
        ]
    )


def commit(store: CredentialStore, settings: SecuritySettings) -> list[str]:
    """Save the credential store and the broker files made from it, all or nothing as far as files allow.

    Everything is rendered (and so checked) before anything is written; then the store (the source of
    truth), then this scope's part of the broker files (the installation's own, or a tenant's), then the broker
    files themselves, made of every scope's part, each atomically. Returns warnings: stored devices the broker
    files leave out because their ids are not valid any more (remove or rename them).
    """
    if settings.mqtt_password is None:
        raise ValueError("the ingest service's MQTT password is not set: run `suitcase init` first")
    publishers = {}
    if settings.simulator_mqtt_password is not None and settings.tenant is None:
        publishers[settings.simulator_mqtt_username] = ServicePublisher(
            settings.simulator_mqtt_password.get_secret_value(), simulator_topics(settings.topic_root)
        )
    texts = store.broker_files(
        topic_root=settings.topic_root,
        ingest_user=settings.mqtt_username,
        ingest_password=settings.mqtt_password.get_secret_value(),
        publishers=publishers,
        ingest_reads=ingest_reads(settings),
    )
    store.save()
    write_broker_part(texts, settings)
    return [
        f"warning: {device!r} in {settings.credentials_file} is not a valid device id any more; the broker files "
        "leave it out (`suitcase devices credentials --revoke` it)"
        for device in texts.skipped
    ]


def ingest_reads(settings: SecuritySettings) -> tuple[str, ...]:
    """What an ingest service may read: every topic an account of its scope may publish on, nothing else."""
    prefix = network_prefix(settings.topic_root, settings.tenant)
    return tuple(publish_filters(FormatContext(topic_root=settings.topic_root, network_prefix=prefix)))


_PART_FILES = ("passwd", "acl", "passwd-service", "acl-service")
DEFAULT_SCOPE = "default"  # the part of the installation's own accounts


def write_broker_part(texts: BrokerFileTexts, settings: SecuritySettings) -> None:
    """Write one scope's part of the broker files (``parts/<scope>.*`` beside them), then the files themselves
    from every part. The scope is a tenant's name, or ``default`` for the installation's own accounts."""
    parts = broker_parts_dir(settings)
    name = settings.tenant or DEFAULT_SCOPE
    for suffix, text in zip(
        _PART_FILES, (texts.password, texts.acl, texts.service_password, texts.service_acl), strict=True
    ):
        write_atomically(parts / f"{name}.{suffix}", text, mode=0o600)
    assemble_broker_files(settings)


def broker_parts_dir(settings: BrokerFileSettings) -> Path:
    return settings.mosquitto_password_file.parent / "parts"


def remove_broker_part(settings: BrokerFileSettings, scope: str) -> None:
    for suffix in _PART_FILES:
        (broker_parts_dir(settings) / f"{scope}.{suffix}").unlink(missing_ok=True)
    assemble_broker_files(settings)


def assemble_broker_files(settings: BrokerFileSettings) -> None:
    """The broker's four files, each the parts of every scope one after another (the installation's first)."""
    parts = broker_parts_dir(settings)
    found = {path.name.split(".", 1)[0] for path in parts.glob("*.passwd")}
    scopes = sorted(found, key=lambda scope: (scope != DEFAULT_SCOPE, scope))
    if scopes and DEFAULT_SCOPE not in scopes:
        raise ValueError(
            "the installation's own broker accounts are not among the broker files' parts yet: run "
            "`suitcase init --broker-files` once, then try again"
        )
    # 0644: Mosquitto re-reads them as its own unprivileged user on SIGHUP (in docker: another uid).
    # They hold salted PBKDF2 hashes of random passwords and topic rules, nothing usable in clear.
    for suffix, path in zip(
        _PART_FILES,
        (
            settings.mosquitto_password_file,
            settings.mosquitto_acl_file,
            settings.mosquitto_service_password_file,
            settings.mosquitto_service_acl_file,
        ),
        strict=True,
    ):
        text = "".join((parts / f"{scope}.{suffix}").read_text(encoding="utf-8") for scope in scopes)
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
