"""`suitcase tenants add|list|remove`: the platform administrator's view of a shared installation.

Run without ``--tenant``, in the installation's folder, after `suitcase init`. Adding a tenant writes its folder
(``var/tenants/<name>/``) with its own settings file (``tenant.env``, 0600: fresh passwords for its ingest
service's broker account, its InfluxDB users and its /metrics token, and the installation's shared settings such as
where the broker and InfluxDB are), and its ingest service's account into the broker files. Everything else the
tenant does is a command with ``--tenant NAME``.
"""

from __future__ import annotations

import argparse
import secrets
import sys

from dotenv import dotenv_values

from iot_suitcase.devices.credentials.issuing import commit, open_store, remove_broker_part
from iot_suitcase.devices.credentials.mosquitto import write_atomically
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.registry import RegistryError, RegistryFile
from iot_suitcase.devices.settings import ENV_FILE, TopicSettings, tenant_env_file, tenants_file_path
from iot_suitcase.devices.tenants.model import Tenant
from iot_suitcase.devices.tenants.store import TenantsError, load_tenants, new_tenant, save_tenants

# What a tenant shares with the installation: where the broker and InfluxDB are and how to reach them, where the
# broker files are, how the console is served. Never a secret, never a file of the installation's own data.
SHARED_SETTINGS = (
    "SUITCASE_MQTT_HOST",
    "SUITCASE_MQTT_PORT",
    "SUITCASE_MQTT_SERVICE_PORT",
    "SUITCASE_MQTT_TLS_CA",
    "SUITCASE_MQTT_TLS_CERT",
    "SUITCASE_MQTT_TLS_KEY",
    "SUITCASE_INFLUX_FLAVOUR",
    "SUITCASE_INFLUX_URL",
    "SUITCASE_INFLUX_RETENTION_POLICY",
    "SUITCASE_HTTP_HOST",
    "SUITCASE_HTTP_TLS_CERT",
    "SUITCASE_HTTP_TLS_KEY",
    "SUITCASE_DEVICE_MQTT_HOST",
    "SUITCASE_DEVICE_MQTT_PORT",
    "SUITCASE_DEVICE_CA_FILE",
    "SUITCASE_MOSQUITTO_PASSWORD_FILE",
    "SUITCASE_MOSQUITTO_ACL_FILE",
    "SUITCASE_MOSQUITTO_SERVICE_PASSWORD_FILE",
    "SUITCASE_MOSQUITTO_SERVICE_ACL_FILE",
    "SUITCASE_MOSQUITTO_PID_FILE",
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "tenants",
        help="several municipalities on one installation: add, list, remove",
        description="A tenant has its own devices, credentials, console accounts, InfluxDB database and ingest "
        "service; its commands take --tenant NAME. Run these without --tenant.",
    )
    sub = parser.add_subparsers(dest="tenants_command", required=True, metavar="COMMAND")
    add = sub.add_parser("add", help="add a tenant: its folder, settings, passwords and broker account")
    add.add_argument("name", help="2-31 of a-z 0-9 -, starting with a letter (part of its topics and user names)")
    add.add_argument("--title", default="", help="what people call it, e.g. 'Aarhus Kommune'")
    add.set_defaults(handler=run_add)
    listing = sub.add_parser("list", help="the tenants, their console ports and device counts")
    listing.set_defaults(handler=run_list)
    remove = sub.add_parser("remove", help="remove a tenant's broker accounts; its folder and data stay")
    remove.add_argument("name")
    remove.set_defaults(handler=run_remove)


def _platform() -> tuple[TopicSettings, dict[str, Tenant]] | None:
    """The installation's settings and its tenants, or None (said on stderr) run for a tenant or unreadable."""
    settings = TopicSettings()
    if settings.tenant is not None:
        print("error: tenants are managed for the whole installation: run this without --tenant", file=sys.stderr)
        return None
    try:
        return settings, load_tenants(settings.tenants_file)
    except TenantsError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def tenant_env_text(tenant: Tenant, settings: TopicSettings) -> str:
    """A tenant's settings file: its own names, paths and fresh passwords, then the installation's shared ones."""
    folder = tenant.folder(settings.tenants_file)
    own = {
        "SUITCASE_TOPIC_ROOT": tenant.topic_root(settings.topic_root),
        "SUITCASE_REGISTRY_FILE": folder / "registry.yaml",
        "SUITCASE_CREDENTIALS_FILE": folder / "credentials.yaml",
        "SUITCASE_ACCOUNTS_FILE": folder / "accounts.sqlite3",
        "SUITCASE_DATA_DIR": folder / "ingest",
        "SUITCASE_JAVASCRIPT_DECODERS_FILE": folder / "decoders.toml",
        "SUITCASE_HTTP_PORT": tenant.http_port,
        "SUITCASE_MQTT_USERNAME": tenant.ingest_user,
        "SUITCASE_MQTT_CLIENT_ID": tenant.ingest_user,
        "SUITCASE_MQTT_PASSWORD": secrets.token_urlsafe(24),
        "SUITCASE_INFLUX_DATABASE": tenant.database,
        "SUITCASE_INFLUX_USERNAME": f"suitcase-writer-{tenant.name}",
        "SUITCASE_INFLUX_PASSWORD": secrets.token_urlsafe(24),
        "SUITCASE_INFLUX_READ_USERNAME": f"suitcase-reader-{tenant.name}",
        "SUITCASE_INFLUX_READ_PASSWORD": secrets.token_urlsafe(24),
        "SUITCASE_METRICS_TOKEN": secrets.token_urlsafe(32),
    }
    installation = {key: value for key, value in dotenv_values(ENV_FILE).items() if value}
    shared = {key: installation[key] for key in SHARED_SETTINGS if key in installation}
    lines = [
        f"# The settings of tenant {tenant.name} (`suitcase --tenant {tenant.name} ...` reads this file instead of",
        "# .env), written by `suitcase tenants add`. Keep it private; never commit it.",
        *(f"{key}={value}" for key, value in own.items()),
        "# shared with the installation, as its .env had them",
        *(f"{key}={value}" for key, value in shared.items()),
    ]
    return "\n".join(lines) + "\n"


def run_add(args: argparse.Namespace) -> int:
    found = _platform()
    if found is None:
        return 1
    settings, tenants = found
    platform = SecuritySettings()
    if platform.mqtt_password is None:
        print("error: run `suitcase init` first: the broker files start with the installation's own", file=sys.stderr)
        return 1
    try:
        tenant = new_tenant(tenants, args.name, args.title)
    except TenantsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    folder = tenant.folder(settings.tenants_file)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    env_file = tenant_env_file(tenant.name)
    write_atomically(env_file, tenant_env_text(tenant, settings), mode=0o600)
    commit(open_store(platform), platform)  # the installation's own part first, as it is now
    own = SecuritySettings(_env_file=env_file, tenant=tenant.name)
    commit(open_store(own), own)
    save_tenants(settings.tenants_file, {**tenants, tenant.name: tenant})
    print(f"added tenant {tenant.name} ({tenant.title}): its settings and data in {folder}")
    print(f"- its devices publish on {own.topic_root}/<device>/up and log in as <device>@{tenant.name}")
    print(f"- its InfluxDB database and users: suitcase --tenant {tenant.name} influx grant --admin-user ADMIN")
    print(f"- its first console administrator: suitcase --tenant {tenant.name} users add NAME --role admin")
    print(f"- its ingest service and console (port {tenant.http_port}): suitcase --tenant {tenant.name} ingest")
    print("- reload the broker (SIGHUP) for its ingest service's account to work")
    return 0


def run_list(_args: argparse.Namespace) -> int:
    found = _platform()
    if found is None:
        return 1
    settings, tenants = found
    if not tenants:
        print(f"no tenants: this installation serves one organisation ({settings.tenants_file} does not list any)")
        return 0
    for tenant in sorted(tenants.values(), key=lambda t: t.name):
        registry = tenant.folder(settings.tenants_file) / "registry.yaml"
        try:
            devices = str(len(RegistryFile(registry).load())) if registry.exists() else "0"
        except RegistryError:
            devices = "?"
        print(f"{tenant.name:<24} port {tenant.http_port:<6} devices {devices:<6} database {tenant.database:<24} "
              f"{tenant.title}")  # fmt: skip
    return 0


def run_remove(args: argparse.Namespace) -> int:
    found = _platform()
    if found is None:
        return 1
    settings, tenants = found
    tenant = tenants.pop(args.name, None)
    if tenant is None:
        print(f"error: no tenant {args.name!r} (suitcase tenants list)", file=sys.stderr)
        return 1
    remove_broker_part(SecuritySettings(), tenant.name)
    save_tenants(settings.tenants_file, tenants)
    folder = tenant.folder(settings.tenants_file)
    print(f"removed tenant {tenant.name}: its devices and ingest service can no longer log in to the broker")
    print(f"its registry, credentials and stores stay in {folder}; its readings stay in InfluxDB ({tenant.database})")
    print("reload the broker (SIGHUP) for the removal to take effect")
    return 0


def tenant_exists(name: str) -> bool:
    """Whether the tenants file lists a tenant named so and its settings file is here (what ``--tenant`` needs);
    a removed tenant's folder stays, but its name is not accepted any more."""
    try:
        listed = name in load_tenants(tenants_file_path())
        return listed and tenant_env_file(name).is_file()
    except (TenantsError, ValueError):
        return False
