"""The `suitcase` command: a thin dispatcher to the commands each package registers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

import devices.cli
import ingest.cli
import suitcase.stack.cli

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suitcase",
        description="iot-suitcase: sensor readings from MQTT and HTTP into InfluxDB, dashboards in Grafana.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    devices.cli.register(commands)
    ingest.cli.register(commands)
    suitcase.stack.cli.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
