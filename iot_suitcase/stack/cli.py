"""`suitcase up`: the local stack (the main job of `scripts/up`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic_settings import CliSettingsSource

from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.operations.logs import configure_logging
from iot_suitcase.stack.demo import DemoSettings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "up",
        help="run the local stack: its own Mosquitto, InfluxDB if missing, the ingest service, a demo fleet",
        description="Starts its own Mosquitto (refusing if another process holds the port) and InfluxDB from the "
        "system packages unless one already listens (configs and data under --var-dir), writes Grafana's "
        "provisioning tree, runs the ingest service with its status page and a small demo fleet, and prints "
        "the URLs. Ctrl-C stops all.",
    )
    parser.add_argument("--var-dir", type=Path, default=Path("var"), help="where the stack keeps its data")
    parser.add_argument(
        "--grafana-dir", type=Path, help="where Grafana's provisioning tree goes (default: VAR_DIR/grafana)"
    )
    demo = parser.add_argument_group("demo fleet (suitcase simulate)")
    defaults = DemoSettings()
    demo.add_argument("--no-demo", action="store_true", help="run no demo fleet")
    demo.add_argument("--demo-sites", type=int, default=defaults.sites, help=f"(default {defaults.sites})")
    demo.add_argument(
        "--demo-devices-per-site",
        type=int,
        default=defaults.devices_per_site,
        help=f"(default {defaults.devices_per_site})",
    )
    demo.add_argument(
        "--demo-interval", type=float, default=defaults.interval_s, help=f"seconds (default {defaults.interval_s:g})"
    )
    demo.add_argument(
        "--demo-faults",
        type=float,
        default=defaults.faults,
        help=f"share of faulty messages (default {defaults.faults})",
    )
    source: CliSettingsSource[IngestSettings] = CliSettingsSource(IngestSettings, root_parser=parser)
    parser.set_defaults(handler=lambda args: run(args, IngestSettings(_cli_settings_source=source(parsed_args=args))))


def run(args: argparse.Namespace, settings: IngestSettings) -> int:
    from iot_suitcase.stack.local import StackError, StackOptions, run_local_stack, stack_settings  # noqa: PLC0415 (lazy: only where it runs)

    var_dir: Path = args.var_dir
    settings = stack_settings(settings, var_dir)  # the whole stack keeps its state under --var-dir
    demo = None
    if not args.no_demo:
        demo = DemoSettings(
            sites=args.demo_sites,
            devices_per_site=args.demo_devices_per_site,
            interval_s=args.demo_interval,
            faults=args.demo_faults,
        )
    configure_logging(settings.log_level, settings.log_format)
    try:
        run_local_stack(settings, StackOptions(var_dir, args.grafana_dir or var_dir / "grafana", demo))
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
