"""`suitcase tenants add|list|remove|export|import`: the platform administrator's view of a shared installation.

Run without ``--tenant``, in the installation's folder, after `suitcase init` (admin.py: what adding and removing
do; moving.py: what an export holds). Everything else a tenant does is a command with ``--tenant NAME``.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

from dotenv import dotenv_values

from iot_suitcase.devices.settings import TopicSettings, tenant_env_file, tenants_file_path
from iot_suitcase.devices.tenants.admin import (
    Moved,
    add_tenant,
    chosen_settings,
    device_count,
    remove_tenant,
)
from iot_suitcase.devices.tenants.model import Tenant
from iot_suitcase.devices.tenants.moving import MoveError, export_tenant, read_archive
from iot_suitcase.devices.tenants.store import TenantsError, load_tenants


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "tenants",
        help="several municipalities on one installation: add, list, remove, export, import",
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


def run_add(args: argparse.Namespace) -> int:
    if _platform() is None:
        return 1
    try:
        added = add_tenant(args.name, args.title)
    except TenantsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    tenant = added.tenant
    print(f"added tenant {tenant.name} ({tenant.title}): its settings and data in {added.folder}")
    print(f"- its devices publish on {added.topic_root}/<device>/up and log in as <device>@{tenant.name}")
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
        count = device_count(tenant, settings.tenants_file)
        devices = "?" if count is None else str(count)
        print(f"{tenant.name:<24} port {tenant.http_port:<6} devices {devices:<6} database {tenant.database:<24} "
              f"{tenant.title}")  # fmt: skip
    return 0


def run_remove(args: argparse.Namespace) -> int:
    if _platform() is None:
        return 1
    try:
        tenant, folder = remove_tenant(args.name)
    except TenantsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"removed tenant {tenant.name}: its devices and ingest service can no longer log in to the broker")
    print(f"its registry, credentials and stores stay in {folder}; its readings stay in InfluxDB ({tenant.database})")
    print("reload the broker (SIGHUP) for the removal to take effect")
    return 0


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
    if _platform() is None:
        return 1
    try:
        manifest, files = read_archive(args.archive)
        added = add_tenant(manifest.name, manifest.title, Moved(manifest, files))
    except (MoveError, TenantsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    tenant = added.tenant
    print(f"imported tenant {tenant.name} ({tenant.title}), exported {manifest.exported_at}: {added.devices} devices, "
          f"topics {added.topic_root}/<device>/up, console port {tenant.http_port}")  # fmt: skip
    print("- its devices and console accounts keep their passwords; its services get new ones here")
    print(f"- its InfluxDB users (new passwords), and its database {tenant.database} if this InfluxDB lacks it:")
    print(f"  suitcase --tenant {tenant.name} influx grant --admin-user ADMIN  (its readings: move the database")
    print("  with InfluxDB's backup and restore if the installation it came from used another InfluxDB)")
    print(f"- reload the broker (SIGHUP), then start its ingest service: suitcase --tenant {tenant.name} ingest")
    return 0


def tenant_exists(name: str) -> bool:
    """Whether the tenants file lists a tenant named so and its settings file is here (what ``--tenant`` needs);
    a removed tenant's folder stays, but its name is not accepted any more."""
    try:
        listed = name in load_tenants(tenants_file_path())
        return listed and tenant_env_file(name).is_file()
    except (TenantsError, ValueError):
        return False
