"""`suitcase devices add|list|show|remove|import|export`: the registry for people who do not read code.

Every command prints what it did; every refusal goes to stderr with what to fix, and exits 1 (argparse
exits 2 for a mistyped command line).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.registry.importer import export_csv, import_csv
from iot_suitcase.devices.registry.model import Device, RegistryError
from iot_suitcase.devices.registry.store import RegistryFile, dump_yaml

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True, slots=True)
class DeviceCommands:
    """The `suitcase devices` group, for commands that build on the registry (credentials) to join."""

    subcommands: argparse._SubParsersAction[argparse.ArgumentParser]
    common: argparse.ArgumentParser
    guarded: Callable[[Handler], Handler]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> DeviceCommands:
    parser = commands.add_parser(
        "devices",
        help="the device registry: add, list, show, remove, import, export, credentials",
        description="Every sensor of this installation, in one YAML file (SUITCASE_REGISTRY_FILE, else "
        "var/registry.yaml). Format and CSV columns: devices/registry/README.md.",
    )
    subcommands = parser.add_subparsers(dest="devices_command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--registry",
        type=Path,
        metavar="PATH",
        help="registry file (default: SUITCASE_REGISTRY_FILE, else var/registry.yaml)",
    )

    add = subcommands.add_parser(
        "add",
        parents=[common],
        help="register one device",
        description="Registers one device. Kind and reporting interval default to the model's.",
    )
    add.add_argument("id", metavar="ID", help="the device id: 1-64 of A-Z a-z 0-9 . _ -, not beginning with suitcase-")
    add.add_argument("--model", required=True, help="'native' or vendor/model (`suitcase codec list`)")
    add.add_argument("--site", required=True, help="where it is: a-z 0-9 - _")
    kinds = ", ".join(sorted(load_catalog().kinds))
    add.add_argument("--kind", help=f"catalog kind ({kinds}); default: the model's")
    add.add_argument("--name", help="display name (default: the id)")
    add.add_argument("--lat", type=float, help="latitude, WGS 84 (with --lon)")
    add.add_argument("--lon", type=float, help="longitude, WGS 84 (with --lat)")
    add.add_argument("--dev-eui", help="LoRaWAN DevEUI: 16 hex digits")
    add.add_argument("--interval-s", type=int, help="expected reporting interval in seconds (default: the model's)")
    add.add_argument("--tag", action="append", default=[], type=_tag, metavar="KEY=VALUE", help="a tag (repeatable)")
    add.add_argument(
        "--gateway", metavar="ID", help="the device (a SenML gateway) whose account publishes this one's readings"
    )
    add.set_defaults(handler=_guarded(lambda args: run_add(args, add)))

    listing = subcommands.add_parser("list", parents=[common], help="list devices as a table")
    listing.add_argument("--site", help="only this site")
    listing.add_argument("--kind", help="only this kind")
    listing.add_argument("--json", action="store_true", help="a JSON array instead")
    listing.set_defaults(handler=_guarded(run_list))

    show = subcommands.add_parser("show", parents=[common], help="everything about one device")
    show.add_argument("id", metavar="ID")
    show.add_argument("--json", action="store_true", help="JSON instead of YAML")
    show.set_defaults(handler=_guarded(run_show))

    remove = subcommands.add_parser("remove", parents=[common], help="unregister one device")
    remove.add_argument("id", metavar="ID")
    remove.set_defaults(handler=_guarded(run_remove))

    importing = subcommands.add_parser(
        "import",
        parents=[common],
        help="register every device of a CSV file, or none",
        description="Columns: id,model,kind,site,name,lat,lon,dev_eui,interval_s,tags,gateway (header required; id, "
        "model and site required; tags as key=value;key=value). A file with any bad row imports nothing and "
        "every problem is listed with its line.",
    )
    importing.add_argument("file", metavar="FILE.csv", help="the CSV file ('-': stdin)")
    importing.add_argument(
        "--update", action="store_true", help="rows whose id is registered replace that device (an edited sheet)"
    )
    importing.set_defaults(handler=_guarded(run_import))

    export = subcommands.add_parser("export", parents=[common], help="print the registry as CSV or YAML")
    export.add_argument("--format", choices=["csv", "yaml"], default="csv", help="csv (re-importable) or yaml")
    export.set_defaults(handler=_guarded(run_export))

    return DeviceCommands(subcommands, common, _guarded)


def _tag(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value.strip()


def _guarded(run: Handler) -> Handler:
    """Registry refusals and file errors as a message on stderr and exit status 1, not a traceback."""

    def handler(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except RegistryError as error:
            print(f"error: {error}", file=sys.stderr)
        except BrokenPipeError:  # `suitcase devices list | head`: iot_suitcase.cli handles it for every command
            raise
        except OSError as error:
            print(f"error: {error}", file=sys.stderr)
        return 1

    return handler


def run_add(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if (args.lat is None) != (args.lon is None):
        parser.error("--lat and --lon go together")
    tags = dict(args.tag)
    if len(tags) < len(args.tag):
        parser.error("a --tag key is given twice")
    given = {
        "id": args.id,
        "model": args.model,
        "site": args.site,
        "kind": args.kind,
        "name": args.name,
        "location": None if args.lat is None else {"lat": args.lat, "lon": args.lon},
        "dev_eui": args.dev_eui,
        "interval_s": args.interval_s,
        "tags": tags,
        "gateway": args.gateway,
    }
    file = RegistryFile(args.registry)
    with file.edit() as registry:
        device = registry.add_given(given)
    print(
        f"added {device.id}: model {device.model}, kind {device.kind or '-'}, site {device.site}, "
        f"every {device.interval_s} s, in {file.path}"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    file = RegistryFile(args.registry)
    found = [
        device
        for device in file.load().devices
        if (args.site is None or device.site == args.site) and (args.kind is None or device.kind == args.kind)
    ]
    if args.json:
        print(json.dumps([device.model_dump(mode="json") for device in found], indent=2, ensure_ascii=False))
    elif found:
        print(_table(found))
    else:
        print(f"no devices{' match' if args.site or args.kind else ''} in {file.path}", file=sys.stderr)
    return 0


def _table(devices: list[Device]) -> str:
    head = ("ID", "SITE", "MODEL", "KIND", "DEV_EUI", "EVERY", "NAME")
    rows = [
        (d.id, d.site, d.model, d.kind or "-", d.dev_eui or "-", f"{d.interval_s} s", "" if d.name == d.id else d.name)
        for d in devices
    ]
    widths = [max(len(row[column]) for row in [head, *rows]) for column in range(len(head) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in [head, *rows]
    )


def run_show(args: argparse.Namespace) -> int:
    file = RegistryFile(args.registry)
    device = file.load().require(args.id)
    if args.json:
        print(json.dumps(device.model_dump(mode="json"), indent=2, ensure_ascii=False))
    else:
        print(yaml.safe_dump(device.as_record(), sort_keys=False, allow_unicode=True, width=1000), end="")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    file = RegistryFile(args.registry)
    with file.edit() as registry:
        device = registry.remove(args.id)
    print(f"removed {device.id} (site {device.site}) from {file.path}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    file = RegistryFile(args.registry)
    with file.edit() as registry:
        added = import_csv(registry, sys.stdin if args.file == "-" else Path(args.file), update=args.update)
        total = len(registry)
    print(f"imported {len(added)} device{'' if len(added) == 1 else 's'} into {file.path} ({total} in total)")
    return 0


def run_export(args: argparse.Namespace) -> int:
    registry = RegistryFile(args.registry).load()
    if args.format == "yaml":
        sys.stdout.write(dump_yaml(registry))
    else:
        export_csv(registry.devices, sys.stdout)
    return 0
