"""`suitcase tenants add|list|remove|export|import`: the platform administrator's view of a shared installation.

Run without ``--tenant``, in the installation's folder, after `suitcase init`. Adding a tenant writes its folder
(``var/tenants/<name>/``) with its own settings file (``tenant.env``, 0600: fresh passwords for its ingest
service's broker account, its InfluxDB users and its /metrics token, and the installation's shared settings such as
where the broker and InfluxDB are), and its ingest service's account into the broker files. Everything else the
tenant does is a command with ``--tenant NAME``.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tomllib
from pathlib import Path

from dotenv import dotenv_values

from iot_suitcase.devices.credentials.issuing import commit, open_store, remove_broker_part
from iot_suitcase.devices.credentials.mosquitto import write_atomically
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.registry import RegistryError, RegistryFile
from iot_suitcase.devices.settings import ENV_FILE, TopicSettings, tenant_env_file, tenants_file_path
from iot_suitcase.devices.tenants.model import Tenant
from iot_suitcase.devices.tenants.moving import MoveError, export_tenant, read_archive, write_files
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
    export = sub.add_parser(
        "export", help="a tenant's registry, credential hashes, console accounts and settings, in one archive"
    )
    export.add_argument("name")
    export.add_argument("--to", type=Path, help="the archive to write (default: NAME.tenant.tar.gz here)")
    export.set_defaults(handler=run_export)
    take = sub.add_parser("import", help="a tenant from another installation's export; its devices go on as they were")
    take.add_argument("archive", type=Path)
    take.set_defaults(handler=run_import)


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


def own_settings(tenant: Tenant, settings: TopicSettings, topic_root: str | None = None) -> dict[str, object]:
    """A tenant's own names, paths and fresh passwords, made by the installation it is on."""
    folder = tenant.folder(settings.tenants_file)
    return {
        "SUITCASE_TOPIC_ROOT": topic_root or tenant.topic_root(settings.topic_root),
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


def tenant_env_text(
    tenant: Tenant, settings: TopicSettings, *, topic_root: str | None = None, chosen: dict[str, str] | None = None
) -> str:
    """A tenant's settings file: its own names, paths and fresh passwords, the settings it chose (those a moved
    tenant brings along), then the installation's shared ones."""
    installation = {key: value for key, value in dotenv_values(ENV_FILE).items() if value}
    shared = {key: installation[key] for key in SHARED_SETTINGS if key in installation}
    lines = [
        f"# The settings of tenant {tenant.name} (`suitcase --tenant {tenant.name} ...` reads this file instead of",
        "# .env), written by `suitcase tenants add` or `import`. Keep it private; never commit it.",
        *(f"{key}={value}" for key, value in own_settings(tenant, settings, topic_root).items()),
    ]
    if chosen:
        lines += ["# its own choices, brought along from the installation it was exported from"]
        lines += [f"{key}={value}" for key, value in chosen.items()]
    lines += [
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


def chosen_settings(env_file: Path, tenant: Tenant, settings: TopicSettings) -> dict[str, str]:
    """The settings a tenant chose itself (quotas, alert contacts, ...): its settings file without what the
    installation makes for it (paths, passwords, port) or shares with it."""
    made = set(own_settings(tenant, settings)) | set(SHARED_SETTINGS)
    return {key: value for key, value in dotenv_values(env_file).items() if value and key not in made}


def run_export(args: argparse.Namespace) -> int:
    found = _platform()
    if found is None:
        return 1
    settings, tenants = found
    tenant = tenants.get(args.name)
    if tenant is None:
        print(f"error: no tenant {args.name!r} (suitcase tenants list)", file=sys.stderr)
        return 1
    env_file = tenant_env_file(tenant.name)
    topic_root = str(dotenv_values(env_file).get("SUITCASE_TOPIC_ROOT") or tenant.topic_root(settings.topic_root))
    target = args.to or Path(f"{tenant.name}.tenant.tar.gz")
    folder = tenant.folder(settings.tenants_file)
    manifest = export_tenant(tenant, folder, chosen_settings(env_file, tenant, settings), topic_root, target)
    print(f"exported tenant {tenant.name} to {target} (0600: it holds password hashes): {', '.join(manifest.files)}")
    for script in scripts_outside(folder):
        print(f"warning: the decoder script {script} is outside the tenant's folder: copy it yourself")
    print(f"its readings stay in InfluxDB database {tenant.database}; its log and rejects stay in {folder / 'ingest'}")
    print(f"stop its ingest service here (and `suitcase tenants remove {tenant.name}`) once it runs at the new place")
    return 0


def scripts_outside(folder: Path) -> list[str]:
    """Decoder scripts the tenant's decoders file names outside its folder: an export does not carry them."""
    decoders = folder / "decoders.toml"
    if not decoders.is_file():
        return []
    try:
        models = tomllib.loads(decoders.read_text(encoding="utf-8")).get("models", {})
    except (OSError, tomllib.TOMLDecodeError):
        return []
    scripts = [str(model["decoder"]) for model in models.values() if isinstance(model, dict) and "decoder" in model]
    return [script for script in scripts if not (folder / script).resolve().is_relative_to(folder.resolve())]


def run_import(args: argparse.Namespace) -> int:
    found = _platform()
    if found is None:
        return 1
    settings, tenants = found
    platform = SecuritySettings()
    if platform.mqtt_password is None:
        print("error: run `suitcase init` first: the broker files start with the installation's own", file=sys.stderr)
        return 1
    try:
        manifest, files = read_archive(args.archive)
        tenant = new_tenant(tenants, manifest.name, manifest.title)
    except (MoveError, TenantsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    folder = tenant.folder(settings.tenants_file)
    if folder.exists():
        print(f"error: {folder} exists (a removed tenant's?): move it away first", file=sys.stderr)
        return 1
    folder.mkdir(parents=True, mode=0o700)
    try:
        write_files(folder, files)
        env_file = tenant_env_file(tenant.name)
        text = tenant_env_text(tenant, settings, topic_root=manifest.topic_root, chosen=manifest.settings)
        write_atomically(env_file, text, mode=0o600)
        own = SecuritySettings(_env_file=env_file, tenant=tenant.name)
        devices = len(RegistryFile(folder / "registry.yaml").load()) if (folder / "registry.yaml").exists() else 0
        store = open_store(own)  # checks the credentials file before anything of the broker's is written
        commit(open_store(platform), platform)
        commit(store, own)
    except (RegistryError, ValueError, OSError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        print(f"error: the archive's tenant cannot be set up here: {error}", file=sys.stderr)
        return 1
    save_tenants(settings.tenants_file, {**tenants, tenant.name: tenant})
    print(f"imported tenant {tenant.name} ({tenant.title}), exported {manifest.exported_at}: {devices} devices, "
          f"topics {own.topic_root}/<device>/up, console port {tenant.http_port}")  # fmt: skip
    print("- its devices and console accounts keep their passwords; its services get new ones here")
    print(f"- its InfluxDB users (new passwords), and its database {tenant.database} if this InfluxDB lacks it:")
    print(f"  suitcase --tenant {tenant.name} influx grant --admin-user ADMIN  (its readings: move the database")
    print("  with InfluxDB's backup and restore if the installation it came from used another InfluxDB)")
    print("- reload the broker (SIGHUP), then start its ingest service: suitcase --tenant NAME ingest".replace(
        "NAME", tenant.name))  # fmt: skip
    return 0


def tenant_exists(name: str) -> bool:
    """Whether the tenants file lists a tenant named so and its settings file is here (what ``--tenant`` needs);
    a removed tenant's folder stays, but its name is not accepted any more."""
    try:
        listed = name in load_tenants(tenants_file_path())
        return listed and tenant_env_file(name).is_file()
    except (TenantsError, ValueError):
        return False
