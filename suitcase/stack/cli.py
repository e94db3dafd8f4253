"""`suitcase up`: the local stack (the main job of `scripts/up`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic_settings import CliSettingsSource

from ingest.config import IngestSettings
from ingest.logs import configure_logging
from suitcase.stack.local import run_local_stack


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "up",
        help="run the local stack: Mosquitto and InfluxDB if missing, then the ingest service",
        description="Starts Mosquitto and InfluxDB from the system packages where nothing listens on the "
        "configured ports (configs and data under --var-dir), then runs the ingest service. Ctrl-C stops all.",
    )
    parser.add_argument("--var-dir", type=Path, default=Path("var"), help="where the stack keeps its data")
    source: CliSettingsSource[IngestSettings] = CliSettingsSource(IngestSettings, root_parser=parser)
    parser.set_defaults(handler=lambda args: run(args, IngestSettings(_cli_settings_source=source(parsed_args=args))))


def run(args: argparse.Namespace, settings: IngestSettings) -> int:
    # the whole stack keeps its state under --var-dir
    if "data_dir" not in settings.model_fields_set:
        settings = settings.model_copy(update={"data_dir": args.var_dir / "ingest"})
    if "registry_file" not in settings.model_fields_set:
        settings = settings.model_copy(update={"registry_file": args.var_dir / "registry.yaml"})
    configure_logging(settings.log_level, settings.log_format)
    run_local_stack(settings, args.var_dir)
    return 0
