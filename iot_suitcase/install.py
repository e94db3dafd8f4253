"""`suitcase install --systemd`: the production stack on a Debian server without Docker, as systemd services
with the same least-privilege split as compose.

- ``iot-suitcase-broker``: Mosquitto from Debian's package, started by ``deploy/mosquitto-run.sh`` (the compose
  broker's script) as root, which keeps private copies of the account files and the TLS certificate owned by
  the ``mosquitto`` user, reloads on a change, and hands the log to the ingest user's group; Mosquitto itself
  runs as ``mosquitto``.
- ``iot-suitcase-ingest``: the ingest service and console as an unprivileged user of its own, with only its own
  secrets (``var/env/ingest.env``, split from ``.env``), writing nothing but ``./var``.
- ``iot-suitcase-ingest@<tenant>``: a tenant's ingest service and console (``suitcase --tenant NAME ingest``), as
  the same user, reading the tenant's own ``tenant.env`` and nothing of the installation's secrets.

InfluxDB runs as Debian's ``influxdb`` service; Grafana is not a Debian package (see the README).
"""

from __future__ import annotations

import argparse
import os
import pwd
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from iot_suitcase.devices.credentials import BrokerFiles, Listener, listener_config
from iot_suitcase.devices.credentials.mosquitto import tls_listener_config, write_atomically
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.opendata.settings import SERVER_ENV_FILE, SERVER_SETTINGS
from iot_suitcase.devices.settings import BrokerSettings, settings_of, tenant_folder, tenants_file_path
from iot_suitcase.devices.tenants.admin import tenant_opendata_settings
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.init import CERTIFICATES, give_tree

BROKER_UNIT = "iot-suitcase-broker.service"
INGEST_UNIT = "iot-suitcase-ingest.service"
TENANT_UNIT = "iot-suitcase-ingest@.service"  # a template: iot-suitcase-ingest@aarhus is tenant aarhus' service
OPENDATA_UNIT = "iot-suitcase-opendata.service"
TENANT_OPENDATA_UNIT = "iot-suitcase-opendata@.service"  # a tenant's open-data server: iot-suitcase-opendata@aarhus
RUNTIME = "iot-suitcase-broker"  # /run/iot-suitcase-broker: the broker's private copies
# What the ingest service's environment holds of .env: its own secrets and settings, no other account's.
INGEST_KEYS = (
    "SUITCASE_INFLUX_URL",  # where this server's InfluxDB is, when the operator put it in .env
    "SUITCASE_INFLUX_FLAVOUR",
    "SUITCASE_INFLUX_DATABASE",
    "SUITCASE_MQTT_USERNAME",
    "SUITCASE_MQTT_PASSWORD",
    "SUITCASE_INFLUX_USERNAME",
    "SUITCASE_INFLUX_PASSWORD",
    "SUITCASE_INFLUX_TOKEN",
    "SUITCASE_INFLUX_ORG",
    "SUITCASE_INFLUX_BUCKET",
    "SUITCASE_METRICS_TOKEN",
    "SUITCASE_SIMULATOR_MQTT_USERNAME",  # written into the broker files with the devices'
    "SUITCASE_SIMULATOR_MQTT_PASSWORD",
)
_HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "RestrictSUIDSGID=yes",
    "RestrictRealtime=yes",
    "LockPersonality=yes",
    "CapabilityBoundingSet=",
)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the installation is and which ports it serves."""

    root: Path  # the checkout: deploy/, .env and var/ are under it
    suitcase: Path  # the `suitcase` command of its virtualenv
    user: str  # the ingest service's user (a name, or a numeric uid)
    device_port: int  # plain MQTT for devices on the network (and the demo fleet)
    service_port: int  # the ingest service's own listener, on loopback
    tls_port: int  # devices over TLS

    @property
    def var(self) -> Path:
        return self.root / "var"

    @property
    def broker(self) -> Path:
        return self.var / "broker"  # its configuration, persistence and log

    @property
    def ingest_env(self) -> Path:
        return self.var / "env" / "ingest.env"

    @property
    def opendata_env(self) -> Path:
        return self.var / "env" / "opendata.env"


def broker_config(layout: Layout) -> str:
    """Mosquitto's configuration: the compose broker's rules, this installation's paths and ports."""
    private = Path("/run") / RUNTIME
    files = BrokerFiles(private / "passwd", private / "acl", private / "passwd-service", private / "acl-service")
    limit = IngestSettings().max_payload_bytes
    return "\n".join(
        [
            "# Written by `suitcase install --systemd`; rewritten when it runs again.",
            "user mosquitto",
            "persistence true",
            f"persistence_location {layout.broker / 'data'}/",
            "autosave_interval 10",
            "max_queued_messages 0",
            "max_queued_bytes 0",
            f"log_dest file {layout.broker / 'mosquitto.log'}",
            *(f"log_type {kind}" for kind in ("error", "warning", "notice", "information", "debug")),
            listener_config(
                Listener(layout.device_port),
                Listener(layout.service_port, "127.0.0.1"),
                files,
                message_size_limit=limit,
            ),
            tls_listener_config(layout.tls_port, files, private / "certs"),
        ]
    )


def broker_unit(layout: Layout, gid: int) -> str:
    environment: dict[str, object] = {
        "BROKER_CONFIG": layout.broker / "mosquitto.conf",
        "BROKER_FILES_FROM": layout.var / "mosquitto",
        "BROKER_CERTS_FROM": layout.var / CERTIFICATES,
        "BROKER_FILES_TO": Path("/run") / RUNTIME,
        "BROKER_LOG": layout.broker / "mosquitto.log",
        "SUITCASE_GID": gid,
    }
    return "\n".join(
        [
            "[Unit]",
            "Description=iot-suitcase MQTT broker (Mosquitto)",
            "Documentation=file:" + str(layout.root / "README.md"),
            "After=network-online.target",
            "Wants=network-online.target",
            "",
            "[Service]",
            "# as root for the copies and the log's group; Mosquitto drops to its own user (`user mosquitto`)",
            *(f"Environment={key}={value}" for key, value in environment.items()),
            f"ExecStart=/bin/sh {layout.root / 'deploy' / 'mosquitto-run.sh'}",
            "ExecReload=/bin/kill -HUP $MAINPID",
            f"RuntimeDirectory={RUNTIME}",
            "RuntimeDirectoryMode=0700",
            "Restart=on-failure",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            f"ReadWritePaths={layout.broker}",
            "PrivateTmp=yes",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def var_paths(root: Path) -> dict[str, Path]:
    """SUITCASE_ variable -> absolute path, for every setting whose default lies under ./var: the service runs
    in ./var (the root's .env is not its to read), so relative defaults would miss."""
    found = {}
    for settings in (IngestSettings, SecuritySettings):
        for name, field in settings.model_fields.items():
            default = field.default
            if isinstance(default, Path) and default.parts[:1] == ("var",):
                found[f"SUITCASE_{name.upper()}"] = root / default
    return found


def ingest_unit(layout: Layout) -> str:
    environment: dict[str, object] = {
        **var_paths(layout.root),
        "SUITCASE_MQTT_HOST": "127.0.0.1",
        "SUITCASE_MQTT_PORT": layout.device_port,
        "SUITCASE_MQTT_SERVICE_PORT": layout.service_port,
        "SUITCASE_BROKER_LOG_FILE": layout.broker / "mosquitto.log",
        "SUITCASE_DEVICE_MQTT_PORT": layout.tls_port,
        "SUITCASE_DEVICE_CA_FILE": layout.var / CERTIFICATES / "ca.crt",
        # the console and HTTP ingestion on loopback: a TLS reverse proxy in front serves them (README)
        "SUITCASE_HTTP_HOST": "127.0.0.1",
        "SUITCASE_WORKERS": "auto",  # one worker per core on one shared subscription, supervised
    }
    return "\n".join(
        [
            "[Unit]",
            "Description=iot-suitcase ingest service and console",
            "Documentation=file:" + str(layout.root / "README.md"),
            f"After=network-online.target {BROKER_UNIT} influxdb.service",
            f"Wants=network-online.target {BROKER_UNIT}",
            "",
            "[Service]",
            f"User={layout.user}",
            f"WorkingDirectory={layout.var}",
            f"EnvironmentFile={layout.ingest_env}",
            *(f"Environment={key}={value}" for key, value in environment.items()),
            f"ExecStart={layout.suitcase} ingest",
            "Restart=on-failure",
            "KillMode=mixed",  # SIGTERM to the supervisor, which stops its workers in order; SIGKILL to all at the end
            "TimeoutStopSec=20",
            *_HARDENING,
            f"ReadWritePaths={layout.var}",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def tenant_unit(layout: Layout) -> str:
    """The template of a tenant's service: systemd puts the tenant's name for ``%i``. Its settings and secrets
    are its ``tenant.env`` (paths in it are relative to the checkout, its working directory); the unit adds only
    where the broker is, as for the installation's own service."""
    environment: dict[str, object] = {
        "SUITCASE_TENANT": "%i",
        "SUITCASE_TENANTS_FILE": layout.root / tenants_file_path(),  # given, the checkout's .env is never read
        "SUITCASE_MQTT_HOST": "127.0.0.1",
        "SUITCASE_MQTT_PORT": layout.device_port,
        "SUITCASE_MQTT_SERVICE_PORT": layout.service_port,
        "SUITCASE_BROKER_LOG_FILE": layout.broker / "mosquitto.log",  # its own accounts' refusals, shown
        "SUITCASE_DEVICE_MQTT_PORT": layout.tls_port,
        "SUITCASE_DEVICE_CA_FILE": layout.var / CERTIFICATES / "ca.crt",
        "SUITCASE_HTTP_HOST": "127.0.0.1",
    }
    return "\n".join(
        [
            "[Unit]",
            "Description=iot-suitcase ingest service and console of tenant %i",
            "Documentation=file:" + str(layout.root / "devices" / "tenants" / "README.md"),
            f"After=network-online.target {BROKER_UNIT} influxdb.service",
            f"Wants=network-online.target {BROKER_UNIT}",
            "",
            "[Service]",
            f"User={layout.user}",
            f"WorkingDirectory={layout.root}",
            *(f"Environment={key}={value}" for key, value in environment.items()),
            f"ExecStart={layout.suitcase} ingest",
            "Restart=on-failure",
            "KillMode=mixed",  # SIGTERM to the supervisor, which stops its workers in order; SIGKILL to all at the end
            "TimeoutStopSec=20",
            *_HARDENING,
            f"ReadWritePaths={layout.var}",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def opendata_unit(layout: Layout) -> str:
    """The open-data server (`suitcase opendata serve`): public and read-only, as the same unprivileged user, with
    InfluxDB's reader account only; niced, so ingestion comes first on a busy machine."""
    return _opendata_unit(
        layout,
        "iot-suitcase open data",
        layout.var,
        layout.opendata_env,
        hidden=(layout.var / "tenants",),
    )


def tenant_opendata_unit(layout: Layout) -> str:
    """The template of a tenant's open-data server: its ``opendata.env`` (written beside its ``tenant.env`` when the
    tenant is added, or by this installer for tenants added before) holds its reader account and its port; the
    tenant's secrets, credentials and raw payloads are hidden from it."""
    folder = layout.root / tenant_folder("%i", tenants_file_path())
    return _opendata_unit(
        layout,
        "iot-suitcase open data of tenant %i",
        folder,
        folder / SERVER_ENV_FILE,
        hidden=(folder / "tenant.env", folder / "credentials.yaml", folder / "ingest"),
    )


def _opendata_unit(layout: Layout, title: str, scope: Path, env_file: Path, hidden: tuple[Path, ...]) -> str:
    """An open-data server for the scope whose files are in ``scope``. It runs there, where no ``.env`` is, so it
    reads nothing but ``env_file``; what it must never serve (secrets, credentials, raw payloads and rejects) is
    made inaccessible to it, so not even a bug in a public handler could read them."""
    environment: dict[str, object] = {
        "SUITCASE_REGISTRY_FILE": scope / "registry.yaml",
        "SUITCASE_OPENDATA_FILE": scope / "opendata.toml",
        # on loopback: a TLS reverse proxy in front serves it (README)
        "SUITCASE_OPENDATA_HOST": "127.0.0.1",
    }
    secrets = (
        layout.root / ".env",
        layout.var / "env",
        layout.var / CERTIFICATES,
        layout.var / "mosquitto",
        layout.broker,
        layout.var / "credentials.yaml",
        layout.var / "ingest",
        *hidden,
    )
    return "\n".join(
        [
            "[Unit]",
            f"Description={title} (SensorThings API, downloads, DCAT catalogue), read-only",
            "Documentation=file:" + str(layout.root / "devices" / "opendata" / "README.md"),
            "After=network-online.target influxdb.service",
            "Wants=network-online.target",
            "",
            "[Service]",
            f"User={layout.user}",
            f"WorkingDirectory={scope}",
            f"EnvironmentFile={env_file}",
            *(f"Environment={key}={value}" for key, value in environment.items()),
            f"ExecStart={layout.suitcase} opendata serve",
            "Restart=on-failure",
            "TimeoutStopSec=10",
            *_HARDENING,
            "InaccessiblePaths=" + " ".join(f"-{path}" for path in secrets),  # '-': one that is missing is fine
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def ids_of(user: str) -> tuple[int, int]:
    """uid and gid of a user name or a numeric uid (whose gid is taken to be the same number)."""
    if user.isdecimal():
        return int(user), int(user)
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def install(layout: Layout, unit_dir: Path) -> list[Path]:
    """Write the broker's configuration, the ingest service's environment and both units; hand ./var to the
    service's user (but for the TLS keys) and the broker's folder to Mosquitto. Returns the files written."""
    uid, gid = ids_of(layout.user)
    mosquitto = pwd.getpwnam("mosquitto")
    for folder in (layout.broker, layout.broker / "data"):
        folder.mkdir(parents=True, exist_ok=True)
        os.chown(folder, mosquitto.pw_uid, mosquitto.pw_gid)
    written = []
    for path, text, mode in (
        (layout.broker / "mosquitto.conf", broker_config(layout), 0o644),
        (layout.ingest_env, settings_of(layout.root / ".env", INGEST_KEYS, "ingest service"), 0o600),
        (unit_dir / BROKER_UNIT, broker_unit(layout, gid), 0o644),
        (unit_dir / INGEST_UNIT, ingest_unit(layout), 0o644),
        (unit_dir / TENANT_UNIT, tenant_unit(layout), 0o644),
        (layout.opendata_env, settings_of(layout.root / ".env", SERVER_SETTINGS, "open-data server"), 0o600),
        (unit_dir / OPENDATA_UNIT, opendata_unit(layout), 0o644),
        (unit_dir / TENANT_OPENDATA_UNIT, tenant_opendata_unit(layout), 0o644),
        *((env, text, 0o600) for env, text in tenant_opendata_settings()),  # tenants added before this installer
    ):
        write_atomically(path, text, mode=mode)
        written.append(path)
    give_tree(layout.var, uid, gid, keep=(CERTIFICATES, layout.broker.name))
    return written


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "install",
        help="install the production stack as systemd services (a Debian server without Docker)",
        description="Writes the units iot-suitcase-broker (Mosquitto, as in compose) and iot-suitcase-ingest "
        "(the ingest service as an unprivileged user with its own secrets only), after `suitcase init`. Run "
        "as root from the checkout; then `systemctl daemon-reload && systemctl enable --now "
        "iot-suitcase-broker iot-suitcase-ingest`.",
    )
    parser.add_argument("--systemd", action="store_true", required=True, help="systemd units (the only kind)")
    parser.add_argument("--unit-dir", type=Path, default=Path("/etc/systemd/system"), help="where the units go")
    parser.add_argument("--user", default="suitcase", help="the ingest service's user (made if missing)")
    parser.add_argument("--tls-port", type=int, default=8883, help="devices over TLS (default 8883)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    root = Path.cwd()
    if not (root / ".env").is_file() or not (root / "deploy" / "mosquitto-run.sh").is_file():
        print("error: run it from the checkout after `suitcase init` (it needs .env and deploy/)", file=sys.stderr)
        return 1
    if os.getuid() != 0:
        print("error: run it as root: it writes units and hands ./var to the service's user", file=sys.stderr)
        return 1
    if not args.user.isdecimal() and not _user_exists(args.user):
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", args.user], check=True
        )
        print(f"made the system user {args.user!r}")
    broker = BrokerSettings()
    layout = Layout(
        root=root,
        suitcase=Path(sys.executable).with_name("suitcase"),
        user=args.user,
        device_port=broker.mqtt_port,
        service_port=broker.mqtt_service_port or 1884,
        tls_port=args.tls_port,
    )
    for path in install(layout, args.unit_dir):
        print(f"wrote {path}")
    print(f"now: systemctl daemon-reload && systemctl enable --now {BROKER_UNIT} {INGEST_UNIT}")
    print(f"and for each tenant (suitcase tenants list): systemctl enable --now {TENANT_UNIT.replace('@', '@NAME')}")
    print(f"open data (once something is published): systemctl enable --now {OPENDATA_UNIT}")
    print(f"and a tenant's: systemctl enable --now {TENANT_OPENDATA_UNIT.replace('@', '@NAME')}")
    return 0


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
