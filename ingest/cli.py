"""`suitcase ingest`: run the ingest service, configured by SUITCASE_* variables and flags."""

from __future__ import annotations

import argparse
import asyncio

from pydantic_settings import CliSettingsSource

from ingest.config import IngestSettings
from ingest.logs import configure_logging
from ingest.service import serve


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "ingest",
        help="run the ingest service (MQTT -> InfluxDB)",
        description="Receives sensor readings over MQTT, decodes and validates them and writes them to "
        "InfluxDB. Every flag can also be set as a SUITCASE_<NAME> environment variable.",
    )
    source: CliSettingsSource[IngestSettings] = CliSettingsSource(IngestSettings, root_parser=parser)
    parser.set_defaults(handler=lambda args: run(IngestSettings(_cli_settings_source=source(parsed_args=args))))


def run(settings: IngestSettings) -> int:
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(serve(settings))
    return 0
