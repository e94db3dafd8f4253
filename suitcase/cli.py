"""The `suitcase` command: a thin dispatcher to the commands each package registers."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import dashboards.cli
import devices.cli
import devices.credentials.cli
import devices.registry.cli
import ingest.cli
import simulators.cli
import suitcase.config
import suitcase.init
import suitcase.stack.cli

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suitcase",
        description="iot-suitcase: sensor readings from MQTT and HTTP into InfluxDB, dashboards in Grafana.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    devices.cli.register(commands)
    group = devices.registry.cli.register(commands)  # credentials build on the registry, not the reverse
    devices.credentials.cli.add_command(group.subcommands, group.common, group.guarded)
    ingest.cli.register(commands)
    suitcase.stack.cli.register(commands)
    suitcase.init.register(commands)
    simulators.cli.register(commands)
    dashboards.cli.register(commands)
    suitcase.config.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`suitcase ... | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
