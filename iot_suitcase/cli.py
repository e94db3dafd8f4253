"""The `suitcase` command: a thin dispatcher to the commands each package registers."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from iot_suitcase import config, influxgrants, init, install
from iot_suitcase.dashboards import cli as dashboards_cli
from iot_suitcase.devices import cli as devices_cli
from iot_suitcase.devices.codecs import install_javascript_models
from iot_suitcase.devices.codecs.javascript import DecodersFileError
from iot_suitcase.devices.credentials import cli as credentials_cli
from iot_suitcase.devices.opendata import cli as opendata_cli
from iot_suitcase.devices.registry import cli as registry_cli
from iot_suitcase.devices.settings import TENANT_VARIABLE, DecodeSettings
from iot_suitcase.devices.tenants import cli as tenants_cli
from iot_suitcase.ingest import cli as ingest_cli
from iot_suitcase.ingest.console import cli as users_cli
from iot_suitcase.ingest.opendata import server as opendata_server
from iot_suitcase.simulators import cli as simulators_cli
from iot_suitcase.stack import cli as stack_cli

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suitcase",
        description="iot-suitcase: sensor readings from MQTT and HTTP into InfluxDB, dashboards in Grafana.",
    )
    parser.add_argument(
        "--tenant",
        metavar="NAME",
        help="work for this tenant of a shared installation (`suitcase tenants`): its devices, accounts, data "
        "and settings (var/tenants/NAME/tenant.env instead of .env); default: SUITCASE_TENANT, else the "
        "installation's own",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    devices_cli.register(commands)
    tenants_cli.register(commands)
    group = registry_cli.register(commands)  # credentials build on the registry, not the reverse
    credentials_cli.add_command(group.subcommands, group.common, group.guarded)
    credentials_cli.register_integrations(commands)
    opendata_server.register_serve(opendata_cli.register(commands))  # the server is the ingest package's
    ingest_cli.register(commands)
    users_cli.register(commands)
    stack_cli.register(commands)
    init.register(commands)
    install.register(commands)
    influxgrants.register(commands)
    simulators_cli.register(commands)
    dashboards_cli.register(commands)
    config.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # The tenant first: building the parser reads settings (the defaults its help shows), which must be the
    # tenant's, from its settings file.
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--tenant")
    chosen = early.parse_known_args(argv)[0].tenant
    if chosen:
        os.environ[TENANT_VARIABLE] = chosen
    tenant = os.environ.get(TENANT_VARIABLE)
    if tenant and not tenants_cli.tenant_exists(tenant):
        print(f"error: no tenant {tenant!r} here (`suitcase tenants list`)", file=sys.stderr)
        return 2
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    # argparse cannot take an optional positional after an option (`MODEL --fport 5 HEX`): a command that
    # names a `trailing` attribute receives one leftover word there.
    trailing = getattr(args, "trailing", None)
    if trailing and len(rest) == 1 and not rest[0].startswith("-") and getattr(args, trailing) is None:
        setattr(args, trailing, rest[0])
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    handler: Handler = args.handler
    try:
        # models of the JavaScript decoders file, for every command that names or lists models
        install_javascript_models(DecodeSettings().javascript_decoders_file)
    except DecodersFileError as error:
        print(f"warning: JavaScript decoders not loaded: {error}", file=sys.stderr)
    except ValidationError:
        pass  # settings the command itself reads, and reports
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`suitcase ... | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
