"""`suitcase opendata serve`: the public side (SensorThings API, downloads, catalogue) in a process of its own.

Not inside the ingest service: a query flood there costs the event loop that takes readings in, even when nearly
every request is refused (the benchmark's opendata scenario measured +60 ms of ingest p99 that way; bench/README.md
has what a process of its own, niced, changes on a two-core machine). Here it costs this
process, which holds only what it reads: the registry and open-data files and InfluxDB's reader account, no
broker account, no console, no device secrets. Each scope runs its own (`suitcase --tenant NAME opendata serve`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path

from aiohttp import web
from pydantic import Field
from pydantic_settings import CliSettingsSource

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.opendata.settings import OpenDataSettings
from iot_suitcase.devices.registry import Registry, RegistryError, RegistryFile
from iot_suitcase.devices.settings import InfluxSettings
from iot_suitcase.ingest.config import LogFormat
from iot_suitcase.ingest.opendata.catalogue import Catalogue
from iot_suitcase.ingest.opendata.downloads import Downloads
from iot_suitcase.ingest.opendata.guard import PublicGuard
from iot_suitcase.ingest.opendata.published import Published
from iot_suitcase.ingest.opendata.readings import PublicReadings
from iot_suitcase.ingest.opendata.sensorthings import SensorThings
from iot_suitcase.ingest.operations.logs import configure_logging

log = logging.getLogger(__name__)


class OpenDataServerSettings(OpenDataSettings, InfluxSettings):
    """What `suitcase opendata serve` needs: where the choices, the registry and the readings are."""

    opendata_host: str = Field(default="127.0.0.1", description="Where the open-data server listens.")
    opendata_port: int = Field(
        default=9080, ge=0, le=65535, description="Its port (a tenant's: its console's + 1000; 0: any free port)."
    )
    opendata_rate_per_s: float = Field(
        default=10.0, gt=0, description="Open data: requests per second one client may make (429 beyond it)."
    )
    opendata_total_rate_per_s: float = Field(
        default=20.0,
        gt=0,
        description="Open data: requests per second from all clients together (503 beyond it), so a flood from many "
        "addresses takes no more of the machine than this (on the kit's two cores, about a tenth of one).",
    )
    opendata_concurrency: int = Field(
        default=4, ge=1, description="Open-data requests served at once, from all clients together (503 beyond it)."
    )
    opendata_nice: int = Field(
        default=19,
        ge=0,
        le=19,
        description="How much the open-data server yields the CPU to the ingest service on a busy machine (Unix "
        "nice: 0 none, 19 most).",
    )


class RegistryReader:
    """The registry as its file is now: read again when the file changed (a device added, one withdrawn)."""

    def __init__(self, path: Path) -> None:
        self._file = RegistryFile(path)
        self._stamp: tuple[int, int] | None = None
        self._registry = Registry()

    def __call__(self) -> Registry:
        try:
            stat = self._file.path.stat()
        except FileNotFoundError:
            return Registry()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            try:
                self._registry, self._stamp = self._file.load(), stamp
            except RegistryError as error:  # keep serving what was read last; say why once per change
                log.warning("the registry cannot be read; serving the one read before: %s", error)
                self._stamp = stamp
        return self._registry


def application(settings: OpenDataServerSettings) -> web.Application:
    guard = PublicGuard(
        settings.opendata_rate_per_s,
        settings.opendata_concurrency,
        total_rate_per_s=settings.opendata_total_rate_per_s,
    )
    app = web.Application(middlewares=[guard.middleware])
    readings = PublicReadings(settings)
    published = Published(RegistryReader(settings.registry_file), load_catalog(), settings.opendata_file, readings)
    for part in (SensorThings(published), Downloads(published), Catalogue(published)):
        part.add_routes(app)

    async def close_readings(_app: web.Application) -> None:
        await readings.close()

    app.on_cleanup.append(close_readings)
    return app


async def serve(settings: OpenDataServerSettings) -> int:
    os.nice(settings.opendata_nice)  # under a query flood, the kernel gives the ingest service the CPU first
    runner = web.AppRunner(application(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.opendata_host, settings.opendata_port)
    await site.start()
    for address in runner.addresses:
        log.info("open data listening host=%s port=%s path=/sta/v1.1", address[0], address[1])
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    await runner.cleanup()
    log.info("open data stopped")
    return 0


def register_serve(opendata: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = opendata.add_parser(
        "serve",
        help="serve the published open data (SensorThings API, downloads, DCAT catalogue), read-only",
        description="A process of its own, so no query flood reaches the ingest service; put a TLS reverse proxy "
        "in front. Every flag can also be set as a SUITCASE_<NAME> environment variable.",
    )
    source: CliSettingsSource[OpenDataServerSettings] = CliSettingsSource(OpenDataServerSettings, root_parser=parser)

    def run(args: argparse.Namespace) -> int:
        configure_logging("INFO", LogFormat.TEXT)
        return asyncio.run(serve(OpenDataServerSettings(_cli_settings_source=source(parsed_args=args))))

    parser.set_defaults(handler=run)
