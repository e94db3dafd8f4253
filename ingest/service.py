"""The ingest service: MQTT in, decode and validate, write-ahead log, InfluxDB out; stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sqlite3
import ssl
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.registry import RegistryFile
from iot_suitcase.ingest.config import IngestSettings
from iot_suitcase.ingest.console.accounts import Accounts
from iot_suitcase.ingest.console.auth import ConsoleAuth, language_of, template_globals
from iot_suitcase.ingest.console.mapview import MapTiles
from iot_suitcase.ingest.console.onboarding import Onboarding
from iot_suitcase.ingest.console.opendata import OpenDataPage
from iot_suitcase.ingest.console.pages import ConsolePages, Reachable
from iot_suitcase.ingest.console.rendering import Templates
from iot_suitcase.ingest.console.tenants import TenantsPage
from iot_suitcase.ingest.intake.directory import DeviceDirectory
from iot_suitcase.ingest.intake.takein import TakeIn
from iot_suitcase.ingest.operations.peers import Peers
from iot_suitcase.ingest.operations.remembered import RememberedDevices
from iot_suitcase.ingest.operations.web import StatusPages
from iot_suitcase.ingest.pipeline import Pipeline
from iot_suitcase.ingest.sink.devicemeta import RegistryPublisher
from iot_suitcase.ingest.sink.history import History
from iot_suitcase.ingest.sink.influx import make_writer
from iot_suitcase.ingest.sink.rejects import RejectStore
from iot_suitcase.ingest.sources.brokerlog import BrokerLogFollower, BrokerRefusals
from iot_suitcase.ingest.sources.http import Credentials, HttpIngest
from iot_suitcase.ingest.sources.mqtt import MqttConsumer
from iot_suitcase.ingest.sources.ratelimit import RateLimiter
from iot_suitcase.ingest.tasks import supervised
from iot_suitcase.ingest.wal.log import Position, WriteAheadLog

log = logging.getLogger(__name__)


class IngestService:
    """Wires consumer, pipeline, log, rejects store and writer together; ``run`` returns after a clean stop."""

    def __init__(self, settings: IngestSettings, security: SecuritySettings | None = None) -> None:
        self.settings = settings
        # where the console's credentials go: the broker's files (the local stack passes its own)
        self.security = security or SecuritySettings(
            topic_root=settings.topic_root,
            credentials_file=settings.credentials_file,
            mqtt_username=settings.mqtt_username,
            mqtt_password=settings.mqtt_password,
        )
        self.decoder = Decoder(settings)
        self.writer = make_writer(settings)
        self.publisher = RegistryPublisher(self.writer, settings.data_dir / "published-devices.json")
        self.directory = DeviceDirectory(
            RegistryFile(settings.registry_file), settings.unknown_devices, on_change=self.publisher.changed
        )
        # The broker can redeliver at most Receive Maximum unacknowledged messages: remember twice that many.
        remember = 2 * settings.mqtt_receive_maximum
        self.wal = WriteAheadLog(settings.data_dir / "wal", segment_bytes=settings.wal_segment_bytes)
        self.rejects = RejectStore(settings.rejects_path, max_rows=settings.rejects_max_rows)
        self.remembered = RememberedDevices(settings.data_dir / "devices.sqlite3")
        self.consumer = MqttConsumer(
            settings,
            self.decoder.topic_filters,
            on_connect=self._connected,
            on_pong=self._pong,
        )
        self.pipeline = Pipeline(
            self.decoder,
            self.writer,
            self.wal,
            self.rejects,
            broker=self.consumer,
            batch_size=settings.batch_size,
            batch_interval_s=settings.batch_interval_s,
            wal_max_bytes=settings.wal_max_bytes,
            remember_keys=remember,
            worker=settings.mqtt_client_id,
            directory=self.directory,
        )
        self.consumer.deliver_to(self.pipeline.submit)
        self.stop_event = asyncio.Event()
        self.http = HttpIngest(
            self.pipeline.intake,
            self.pipeline.idempotency,
            formats=self.decoder.formats,
            directory=self.directory,
            credentials=Credentials(settings.credentials_file),
            max_bytes=settings.max_payload_bytes,
            limiter=RateLimiter(settings.http_rate_per_s, settings.http_burst),
        )
        self.broker_refusals = BrokerRefusals(tenant=settings.tenant)
        token = settings.worker_token.get_secret_value() if settings.worker_token else None
        self.peers = Peers(settings.worker_peers, token)  # the other workers, when this is worker 0 of several
        self.http_runner: web.AppRunner | None = None
        self.pages: StatusPages | None = None
        self.failure: str | None = None  # a background task that ended unexpectedly: not ready, exit 1

    def _connected(self, generation: int) -> None:
        self.pipeline.connected(generation)

    def _pong(self, token: object) -> None:
        if isinstance(token, Position):
            self.pipeline.pong(token)

    def _registered_now(self, device_id: str) -> bool:
        """In the registry as the file says this moment (a device registered a second ago counts)."""
        self.directory.refresh(self.decoder)
        return device_id in self.directory.registry

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def exit_code(self) -> int:
        return 1 if self.failure is not None else 0

    def _task_failed(self, reason: str, error: BaseException | None) -> None:
        """A background task ended while the service runs: a bug or a fault nothing handles. Say so, stop
        cleanly, exit 1, and let the supervisor (systemd, compose) restart it: the log and the broker's
        session bring back everything that was not stored yet."""
        if self.stop_event.is_set():
            return
        self.failure = reason
        log.error("background task stopped unexpectedly; stopping the service reason=%s", reason, exc_info=error)
        self.stop()

    def _task(self, coroutine: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return supervised(coroutine, name, self._task_failed)

    async def run(self) -> None:
        registry = self.directory.load()
        self.decoder.add_device_models(registry.device_models())
        log.info(
            "registry loaded file=%s devices=%d unknown_devices=%s",
            self.settings.registry_file,
            len(registry),
            self.settings.unknown_devices,
        )
        self.pipeline.open()
        # what staff saw before a restart: last seen, latest values, each device's latest reject
        self.pipeline.board.restore(
            self.remembered.load(), self.rejects.latest_per_device(device.id for device in registry.devices)
        )
        await self.writer.start()
        workers = [
            self._task(self.pipeline.run_committer(), "committer"),
            self._task(self.pipeline.run_drainer(), "drainer"),
            self._task(self.pipeline.run_status(), "status"),
            self._task(self.directory.run_reloader(self.decoder), "registry reloader"),
            self._task(self.publisher.run(), "device metadata publisher"),
            self._task(self.remembered.run(self.pipeline.board.take_changed), "device state keeper"),
        ]
        if not self.settings.worker_index:  # one worker takes in what waits in the store the workers share
            take_in = TakeIn(self.pipeline.intake, self.rejects, self._registered_now)
            workers.append(self._task(take_in.run(), "take-in"))
        if self.settings.broker_log_file is not None:
            follower = BrokerLogFollower(self.settings.broker_log_file, self.broker_refusals)
            workers.append(self._task(follower.run(), "broker log follower"))
        consuming = self._task(self.consumer.run(self.stop_event), "mqtt consumer")
        if self.settings.http_enabled:
            await self._serve_http()
            assert self.pages is not None
            workers.append(self._task(self.pages.run_sampler(), "status sampler"))
            if self.peers:
                workers.append(self._task(self.peers.run(), "other workers' watch"))
        log.info(
            "ingest service started influx=%s flavour=%s data_dir=%s",
            self.settings.influx_url,
            self.settings.influx_flavour,
            self.settings.data_dir,
        )
        try:
            await self.stop_event.wait()
        finally:
            await self._shutdown(workers, consuming)

    async def _shutdown(self, workers: list[asyncio.Task[None]], consuming: asyncio.Task[None]) -> None:
        """Stop taking messages, log and ack what was taken, disconnect; the log keeps what InfluxDB lacks."""
        log.info("stopping held=%d backlog_records=%d", self.pipeline.held, self.wal.backlog_records)
        self.consumer.stop_reading()
        if self.http_runner is not None:
            await self.http_runner.shutdown()
        try:
            await asyncio.wait_for(self.pipeline.wait_committed(), self.settings.shutdown_timeout_s)
        except TimeoutError:
            log.warning("gave up logging; the broker keeps the unacknowledged messages held=%d", self.pipeline.held)
        for task in workers:
            task.cancel()
        # a task that failed was logged when it did (supervised); here only its end is awaited
        await asyncio.gather(*workers, return_exceptions=True)
        self.stop_event.set()
        with contextlib.suppress(Exception):  # a failure of its own was logged when it happened
            await consuming
        if self.http_runner is not None:
            await self.http_runner.cleanup()
        await self.pipeline.close()
        await self.writer.close()
        self.wal.close()
        self.rejects.close()
        try:
            self.remembered.save(self.pipeline.board.take_changed())
        except (OSError, sqlite3.Error) as error:
            log.warning("device states not saved at shutdown error=%s", error)
        self.remembered.close()
        log.info("stopped %s", self.pipeline.status_line())

    def _tls_context(self) -> ssl.SSLContext | None:
        return tls_context(self.settings.http_tls_cert, self.settings.http_tls_key)

    def _metric_labels(self) -> dict[str, str] | None:
        """A tenant's service labels its figures with its tenant, a worker of several with its number."""
        labels = {"tenant": self.settings.tenant} if self.settings.tenant else {}
        if self.settings.worker_index is not None:
            labels["worker"] = str(self.settings.worker_index)
        return labels or None

    async def _serve_http(self) -> None:
        consumer = self.consumer
        templates = Templates(template_globals, language_of)
        accounts = Accounts(self.settings.accounts_file, idle_s=self.settings.session_idle_hours * 3600)
        auth = ConsoleAuth(
            accounts, self.settings, templates, tenant=self.settings.tenant, worker_token=self.settings.worker_token
        )
        app = self.http.app(outer_middlewares=[auth.middleware])
        auth.add_routes(app)
        self.pages = StatusPages(
            self.pipeline,
            self.pipeline.board,
            self.directory,
            self.rejects,
            lambda: consumer.connected,
            failure=lambda: self.failure,
            refusals=self.http.refusals,
            broker_refusals=self.broker_refusals,
            throttled_s=lambda: consumer.throttled_s,
            metric_labels=self._metric_labels(),
            peers=self.peers,
        )
        self.pages.add_routes(app)
        tiles = MapTiles(self.settings.map_tiles, self.settings.map_attribution) if self.settings.map_tiles else None
        onboarding = Onboarding(
            RegistryFile(self.settings.registry_file), templates, lambda: self.security, self.settings.mqtt_port, tiles
        )
        onboarding.add_routes(app)
        opendata = OpenDataPage(
            templates, self.settings.opendata_file, lambda: self.directory.registry, self.decoder.catalog
        )
        opendata.add_routes(app)
        if self.settings.tenant is None:  # the installation's own console: its administrators are the platform's
            TenantsPage(templates, self.settings.tenants_file, lambda: self.security).add_routes(app)
        reachable = Reachable(
            self.settings.topic_root,
            self.settings.device_mqtt_port or self.settings.mqtt_port,
            self.settings.grafana_public_url,
            self.settings.device_ca_file,
        )
        pages = ConsolePages(
            self.pages,
            accounts,
            templates,
            history=History(self.settings),
            reachable=reachable,
            refresh=lambda: self.directory.refresh(self.decoder),
        )
        pages.add_routes(app)
        self.http_runner = web.AppRunner(app, access_log=None)
        await self.http_runner.setup()
        site = web.TCPSite(
            self.http_runner, self.settings.http_host, self.settings.http_port, ssl_context=self._tls_context()
        )
        await site.start()
        for address in self.http_runner.addresses:
            log.info(
                "http server listening host=%s port=%s scheme=%s", address[0], address[1], self.settings.http_scheme
            )


def tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The HTTPS context of the console and HTTP ingestion, or None for plain HTTP."""
    if cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


async def serve(settings: IngestSettings) -> int:
    """Run the service until SIGTERM or SIGINT; the exit status (1 after a background task failed)."""
    service = IngestService(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.stop)
    await service.run()
    return service.exit_code
