"""`suitcase opendata publish|withdraw|list|licence`: choosing what citizens and businesses may read."""

from __future__ import annotations

import argparse
import sys

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.opendata.model import LICENCES, Choice, Scope
from iot_suitcase.devices.opendata.settings import OpenDataSettings
from iot_suitcase.devices.opendata.store import OpenDataError, change_choice, change_licence, load_rules
from iot_suitcase.devices.opendata.streams import published_streams
from iot_suitcase.devices.registry import RegistryError, RegistryFile


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The `opendata` command; returns its subcommands, to which the ingest package adds `serve`."""
    parser = commands.add_parser(
        "opendata",
        help="publish chosen sites, devices or quantities as open data (nothing is public unless chosen)",
        description="Open data is served read-only by `suitcase opendata serve` at /sta/v1.1 (OGC SensorThings "
        "API), /opendata/... (downloads) and /opendata/catalog (DCAT-AP). People and bicycle "
        "counts are published as hourly sums, indoor quantities as hourly means an hour late, and indoor "
        "devices' locations rounded to about a kilometre.",
    )
    sub = parser.add_subparsers(dest="opendata_command", required=True, metavar="COMMAND")
    for name, handler, verb in (("publish", run_publish, "publish"), ("withdraw", run_withdraw, "stop publishing")):
        command = sub.add_parser(name, help=f"{verb} a site's devices, one device, or a quantity of every device")
        chosen = command.add_mutually_exclusive_group(required=True)
        for scope in Scope:
            chosen.add_argument(f"--{scope.value}", metavar=scope.value.upper())
        command.set_defaults(handler=handler)
    listing = sub.add_parser("list", help="what is published, with the privacy each stream gets")
    listing.set_defaults(handler=run_list)
    licence = sub.add_parser("licence", help="the licence and attribution every published dataset carries")
    licence.add_argument("licence", choices=list(LICENCES))
    licence.add_argument("--attribution", required=True, help="e.g. 'Aarhus Kommune'")
    licence.set_defaults(handler=run_licence)
    return sub


def _choice(args: argparse.Namespace) -> Choice:
    return next(Choice(scope, getattr(args, scope.value)) for scope in Scope if getattr(args, scope.value))


def _change(args: argparse.Namespace, publish: bool) -> int:
    settings = OpenDataSettings()
    choice = _choice(args)
    try:
        change_choice(settings.opendata_file, choice, publish=publish, quantities=load_catalog().quantities)
    except OpenDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{'published' if publish else 'withdrawn'}: {choice.scope.value} {choice.value}")
    return run_list(args)


def run_publish(args: argparse.Namespace) -> int:
    return _change(args, publish=True)


def run_withdraw(args: argparse.Namespace) -> int:
    return _change(args, publish=False)


def run_licence(args: argparse.Namespace) -> int:
    try:
        change_licence(OpenDataSettings().opendata_file, args.licence, args.attribution)
    except OpenDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"licence {args.licence} ({LICENCES[args.licence]}), attribution {args.attribution!r}")
    return 0


def run_list(_args: argparse.Namespace) -> int:
    settings = OpenDataSettings()
    try:
        rules = load_rules(settings.opendata_file)
        registry = RegistryFile(settings.registry_file).load()
    except (OpenDataError, RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not rules.choices:
        print("nothing is published (suitcase opendata publish --site|--device|--quantity ...)")
        return 0
    print(f"licence {rules.licence}, attribution {rules.attribution or '(none: set it with opendata licence)'}")
    print("chosen: " + ", ".join(f"{c.scope.value} {c.value}" for c in rules.choices))
    for stream in published_streams(registry, load_catalog(), rules):
        privacy = stream.privacy
        how = "as measured" if not privacy.aggregated else (
            f"{privacy.treatment} per {privacy.bucket_s // 60} min" + (f", {privacy.delay_s // 60} min late"
                                                                       if privacy.delay_s else ""))  # fmt: skip
        print(f"  {stream.device.id:<24} {stream.quantity.name:<24} {how}")
    return 0
