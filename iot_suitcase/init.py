"""`suitcase init`: a ``.env`` with fresh random secrets for the whole stack; no default secret anywhere.

The same file configures the ingest service (pydantic-settings reads ``.env``) and docker compose
(InfluxDB 2 initialisation, Grafana's admin password). Secrets are never printed or logged, but for the one a
person must type: the console's first admin password, shown once and kept only as a hash.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
from pathlib import Path

from pydantic import SecretStr

from iot_suitcase.certificates import CertificateFiles, make_certificates
from iot_suitcase.devices.credentials.issuing import commit, open_store
from iot_suitcase.devices.credentials.mosquitto import write_atomically
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.ingest.console.accounts import FIRST_ADMIN, Accounts
from iot_suitcase.ingest.console.settings import ConsoleSettings

INGEST_USER = "suitcase-ingest"
CERTIFICATES = "certs"  # under ./var: the broker's TLS certificate and keys
GRAFANA_TREE = "grafana-compose"  # under ./var: the compose stack's Grafana provisioning, kept up to date by it


CONTAINER_UID = 10001  # the image's own user (Dockerfile): what the containers run as when root ran init


def owner() -> tuple[int, int]:
    """Who the containers run as, and who owns what they write under ./var: whoever ran `suitcase init`, but
    never root (a container as root could change anything it mounts)."""
    if os.getuid() == 0:
        return CONTAINER_UID, CONTAINER_UID
    return os.getuid(), os.getgid()


def env_text(mqtt_password: str, simulator_password: str) -> str:
    metrics_token = secrets.token_urlsafe(32)
    influx_password = secrets.token_urlsafe(24)
    grafana_password = secrets.token_urlsafe(24)
    writer_password, reader_password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    return f"""# iot-suitcase secrets, written by `suitcase init`. Keep this file private; never commit it.
COMPOSE_PROJECT_NAME=iot-suitcase
# docker compose runs the ingest container as this user (never root), who owns what it writes under ./var
SUITCASE_UID={owner()[0]}
SUITCASE_GID={owner()[1]}
# The ingest service
SUITCASE_MQTT_USERNAME={INGEST_USER}
SUITCASE_MQTT_PASSWORD={mqtt_password}
# InfluxDB 1.x: the ingest service writes as this user; Grafana and the console read as the read user
# (compose's influxdb image makes both at its first start; elsewhere `suitcase influx grant` does)
SUITCASE_INFLUX_DATABASE=suitcase
SUITCASE_INFLUX_USERNAME=suitcase-writer
SUITCASE_INFLUX_PASSWORD={writer_password}
SUITCASE_INFLUX_READ_USERNAME=suitcase-reader
SUITCASE_INFLUX_READ_PASSWORD={reader_password}
# What a scraper sends to read /metrics (Authorization: Bearer ...); every other page needs a console login
SUITCASE_METRICS_TOKEN={metrics_token}
# The demo fleet (`scripts/up`, `docker compose --profile demo`): may publish uplinks for any device.
# Where no simulator runs, delete these two lines and rewrite the broker files (`suitcase init --broker-files`).
SUITCASE_SIMULATOR_MQTT_USERNAME=suitcase-simulator
SUITCASE_SIMULATOR_MQTT_PASSWORD={simulator_password}
# InfluxDB's admin (docker compose): its image makes the users above with it at its first start; no running
# service of the stack uses it
INFLUXDB_ADMIN_USER=suitcase-admin
INFLUXDB_ADMIN_PASSWORD={influx_password}
# Grafana
GF_SECURITY_ADMIN_USER=admin
GF_SECURITY_ADMIN_PASSWORD={grafana_password}
"""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "init",
        help="write a .env with fresh random secrets for the whole stack",
        description="Writes a .env (mode 0600) with new random secrets: the ingest service's MQTT password, "
        "the demo fleet's MQTT password, InfluxDB's admin, write and read passwords, Grafana's admin password, the "
        "/metrics token, and the broker's password and ACL files; and the console's first account, 'admin', "
        "whose password is shown once. No other secret is printed.",
    )
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="where to write (default .env)")
    parser.add_argument("--force", action="store_true", help="replace an existing file (old secrets stop working)")
    parser.add_argument(
        "--tls-name",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name or IP address devices reach the broker by, for its TLS certificate (repeatable; "
        "default: this machine's name, localhost, 127.0.0.1)",
    )
    parser.add_argument(
        "--broker-files",
        action="store_true",
        help="only rewrite the broker's password and ACL files from the existing .env and device credentials",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path: Path = args.env_file
    if args.broker_files:
        return _write_broker_files(SecuritySettings(_env_file=path))
    if path.exists() and not args.force:
        print(f"{path} exists; keep it, or replace its secrets with --force")
        return 1
    mqtt_password, simulator_password = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    write_atomically(path, env_text(mqtt_password, simulator_password), mode=0o600)
    print(f"wrote {path} with new secrets (mode 0600); docker compose and `suitcase` read it from here")
    security = SecuritySettings(
        _env_file=path,
        mqtt_password=SecretStr(mqtt_password),
        simulator_mqtt_password=SecretStr(simulator_password),
    )
    status = _write_broker_files(security)
    console = ConsoleSettings(_env_file=path)
    var = console.accounts_file.parent
    _write_certificates(CertificateFiles(var / CERTIFICATES), args.tls_name)
    first_admin(console.accounts_file)
    (var / GRAFANA_TREE).mkdir(exist_ok=True)  # the compose stack's provisioner writes there, as the containers' user
    hand_over(var, var / "ingest")
    return status


def _write_certificates(files: CertificateFiles, names: list[str]) -> None:
    """The TLS certificates of the broker and the console (the compose stack's devices and staff connect over
    TLS), unless they are there."""
    names = list(dict.fromkeys(names or [socket.getfqdn(), "localhost", "127.0.0.1"]))
    written = make_certificates(files, names)
    if os.getuid() == 0:  # the console's key is the ingest container's to read; the others stay root's
        uid, gid = owner()
        for path in (files.console_cert, files.console_key):
            os.chown(path, uid, gid)
    if written:
        print(
            f"wrote TLS certificates for {', '.join(names)} (the broker's, the console's) and their own CA in "
            f"{files.folder}: devices and browsers check them with {files.ca_cert.name} (public); the keys stay "
            "there (mode 0600)"
        )
    else:
        print(f"kept the TLS certificates in {files.folder}")


def hand_over(var_dir: Path, data_dir: Path) -> None:
    """The ingest container's data dir exists before compose mounts it (a directory Docker makes is root's), and
    when root ran init, everything under ./var belongs to the containers' user, who must write there; but for
    the TLS keys, which only the broker's start script (root) reads: the ingest container mounts ./var too."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if os.getuid() != 0:
        return
    uid, gid = owner()
    give_tree(var_dir, uid, gid, keep=(CERTIFICATES,))
    print(f"{var_dir} now belongs to uid {uid}, the containers' user (init ran as root; the containers never do)")


def give_tree(folder: Path, uid: int, gid: int, *, keep: tuple[str, ...] = ()) -> None:
    """Hand ``folder`` and everything in it to ``uid``:``gid``, but for its subfolders named in ``keep``."""
    for directory, subdirectories, files in os.walk(folder):
        if Path(directory) == folder:
            subdirectories[:] = [name for name in subdirectories if name not in keep]
        os.chown(directory, uid, gid)
        for name in files:
            os.chown(Path(directory) / name, uid, gid)


def first_admin(accounts_file: Path) -> None:
    password = Accounts(accounts_file).first_admin()
    if password is None:
        print(f"the console has an admin already ({accounts_file}); `suitcase users list` shows the accounts")
    else:
        print(f"console: {console_login_line(password)}")


def console_login_line(password: str) -> str:
    return (
        f"log in as '{FIRST_ADMIN}' with the password {password} (shown only now and kept only as a hash: "
        f"note it, or make a new one with `suitcase users password {FIRST_ADMIN}`)"
    )


def _write_broker_files(security: SecuritySettings) -> int:
    if security.mqtt_password is None:
        print("error: no SUITCASE_MQTT_PASSWORD (the ingest service's): run `suitcase init` first")
        return 1
    for warning in commit(open_store(security), security):
        print(warning)
    print(
        "wrote the broker's password and ACL files: "
        f"{security.mosquitto_password_file}, {security.mosquitto_acl_file} (devices), "
        f"{security.mosquitto_service_password_file}, {security.mosquitto_service_acl_file} (the ingest service)"
    )
    if security.simulator_mqtt_password is not None:
        print(f"the demo fleet's broker user {security.simulator_mqtt_username!r} may publish any device's uplinks")
    return 0
