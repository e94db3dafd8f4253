"""The local stack of `scripts/up`: Mosquitto and InfluxDB from the system packages, the ingest service
with its status page, Grafana's provisioning tree and a demo fleet.

The broker is always the stack's own, configured here (a stranger's broker may drop queued messages and
knows no device account); an InfluxDB that already listens is used as it is. What the stack starts runs as
children with configs and data under ``./var/`` and stops with the stack (Ctrl-C).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from ipaddress import ip_address
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from iot_suitcase.devices.credentials import BrokerFiles
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.registry import RegistryError
from iot_suitcase.ingest.config import InfluxFlavour, IngestSettings
from iot_suitcase.ingest.console.accounts import Accounts
from iot_suitcase.ingest.service import IngestService
from iot_suitcase.init import console_login_line
from iot_suitcase.servers.influxdb import InfluxDB
from iot_suitcase.servers.mosquitto import Mosquitto
from iot_suitcase.servers.processes import ManagedProcess, free_port, listening_process, port_is_listening
from iot_suitcase.stack.demo import Broker, DemoError, DemoFleet, DemoSettings, simulator_environment
from iot_suitcase.stack.grafana import ProvisioningTree

log = logging.getLogger(__name__)

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_Settings = TypeVar("_Settings", IngestSettings, SecuritySettings)


def stack_settings(settings: IngestSettings, var_dir: Path) -> IngestSettings:
    """The ingest service keeps its log, rejects, registry and credentials under the stack's var dir,
    unless they are set explicitly (flags, ``SUITCASE_*``, .env)."""
    return _unless_set(
        settings,
        data_dir=var_dir / "ingest",
        registry_file=var_dir / "registry.yaml",
        credentials_file=var_dir / "credentials.yaml",
        accounts_file=var_dir / "accounts.sqlite3",
    )


def stack_security(var_dir: Path) -> SecuritySettings:
    """Credentials and broker files under the stack's var dir, unless set explicitly."""
    return _unless_set(
        SecuritySettings(),
        credentials_file=var_dir / "credentials.yaml",
        mosquitto_password_file=var_dir / "mosquitto" / "passwd",
        mosquitto_acl_file=var_dir / "mosquitto" / "acl",
        mosquitto_service_password_file=var_dir / "mosquitto" / "passwd-service",
        mosquitto_service_acl_file=var_dir / "mosquitto" / "acl-service",
        mosquitto_pid_file=var_dir / "mosquitto" / "mosquitto.pid",
    )


def _unless_set(settings: _Settings, **defaults: Path) -> _Settings:
    return settings.model_copy(update={k: v for k, v in defaults.items() if k not in settings.model_fields_set})


class StackError(RuntimeError):
    """The local stack cannot start as configured; the message says why and what to do."""


def start_services(
    settings: IngestSettings, var_dir: Path, security: SecuritySettings, stack: ExitStack
) -> tuple[IngestSettings, list[str]]:
    """Start the stack's own Mosquitto, and InfluxDB where nothing listens yet; return the ingest service's
    settings (its broker listener) and a line per service for the banner."""
    broker = own_broker(settings, var_dir, security)
    _start(broker, stack)
    rotation = BrokerLogRotation(broker)
    rotation.start()
    stack.callback(rotation.stop)
    secured = "device accounts, no anonymous access" if broker.files else "anonymous access until `suitcase init`"
    lines = [
        f"MQTT broker   {broker.url} for devices ({secured}); the ingest service on 127.0.0.1:{broker.ingest_port}; "
        f"config and data in {broker.data_dir}"
    ]
    settings = settings.model_copy(update={"mqtt_service_port": broker.ingest_port})
    if "broker_log_file" not in settings.model_fields_set:  # refused logins and denied publications, shown
        settings = settings.model_copy(update={"broker_log_file": broker.log_path})

    influx = urlsplit(settings.influx_url)
    host, port = influx.hostname or "127.0.0.1", influx.port or 8086
    if port_is_listening(host, port):
        lines.append(f"InfluxDB      {settings.influx_url} (already running, used as is)")
    elif host in _LOCAL_HOSTS and settings.influx_flavour is InfluxFlavour.V1:
        database = InfluxDB(var_dir / "influxdb", port=port, host=host)
        _start(database, stack)
        database.create_database(settings.influx_database)
        lines.append(f"InfluxDB      {database.url} (started, data in {database.data_dir})")
    else:
        lines.append(f"InfluxDB      {settings.influx_url} (not reachable yet)")
    return settings, lines


def own_broker(settings: IngestSettings, var_dir: Path, security: SecuritySettings) -> Mosquitto:
    """The broker the stack configures itself: queues unbounded, payloads capped, and once `suitcase init` has
    written the broker files, device accounts on the device listener and the ingest account alone on its own.

    The stack never joins a broker it did not configure: a stranger's broker may drop queued messages
    (Mosquitto's default ``max_queued_messages 1000``) and knows none of the device passwords.
    """
    if settings.mqtt_host not in _LOCAL_HOSTS:
        raise StackError(
            f"the local stack runs its own broker on this machine, not on {settings.mqtt_host}: for a broker "
            "elsewhere, run the ingest service alone (`suitcase ingest`) and configure that broker as "
            "README.md's section on the broker says"
        )
    if port_is_listening(settings.mqtt_host, settings.mqtt_port):
        holder = listening_process(settings.mqtt_port)
        raise StackError(
            f"port {settings.mqtt_port} is taken{f' by {holder}' if holder else ''}. The local stack runs a broker "
            "it configured itself (one that never drops queued messages and knows the device accounts), so it "
            "does not use another one. Stop that broker (Debian's mosquitto service: `systemctl disable --now "
            f"mosquitto`), or give the stack another port: `scripts/up --mqtt-port {settings.mqtt_port + 1}`"
        )
    files = None
    if security.mosquitto_password_file.exists():
        files = BrokerFiles(
            password=security.mosquitto_password_file.resolve(),
            acl=security.mosquitto_acl_file.resolve(),
            service_password=security.mosquitto_service_password_file.resolve(),
            service_acl=security.mosquitto_service_acl_file.resolve(),
        )
    return Mosquitto(
        var_dir / "mosquitto",
        port=settings.mqtt_port,
        host=settings.mqtt_host,
        service_port=settings.mqtt_service_port or free_port("127.0.0.1"),
        files=files,
        message_size_limit=settings.max_payload_bytes,
        # denied publications are logged at debug level only: the console shows them (a line or three per
        # message too, which the stack's own rotation keeps bounded)
        extra_config="log_type debug",
    )


class BrokerLogRotation:
    """Keeps the stack's broker log bounded: past ``max_bytes`` it becomes ``mosquitto.log.1`` (the one before
    goes) and the broker, on SIGHUP, opens a new one."""

    def __init__(self, broker: Mosquitto, *, max_bytes: int = 32 << 20, every_s: float = 30.0) -> None:
        self._broker = broker
        self._max_bytes = max_bytes
        self._every_s = every_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="broker-log-rotation", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._every_s):
            self.rotate_if_big()

    def rotate_if_big(self) -> bool:
        path, pid = self._broker.log_path, self._broker.pid
        try:
            if pid is None or path.stat().st_size <= self._max_bytes:
                return False
            os.replace(path, path.with_name(path.name + ".1"))
            os.kill(pid, signal.SIGHUP)  # Mosquitto reopens its log (and rereads its password files)
        except OSError as error:
            log.warning("broker log not rotated error=%s", error)
            return False
        log.info("broker log rotated path=%s", path)
        return True


def _start(service: ManagedProcess, stack: ExitStack) -> None:
    service.start()
    stack.callback(service.stop)


@dataclass(frozen=True, slots=True)
class StackOptions:
    var_dir: Path
    grafana_dir: Path
    demo: DemoSettings | None  # None: --no-demo


def banner(settings: IngestSettings, services: list[str], extras: list[str], status_url: str | None) -> str:
    device = "my-sensor"
    topic = f"{settings.topic_root}/{device}/up"
    influx = urlsplit(settings.influx_url)
    query = "SELECT * FROM temperature WHERE time > now() - 5m"
    lines = ["iot-suitcase local stack", *(f"  {line}" for line in services), *(f"  {line}" for line in extras)]
    if status_url is not None:
        lines += [
            f"  console       {status_url}  (after the login: devices, latest values, rejects, pipeline)",
            f"  JSON API      {status_url}api/devices  {status_url}api/rejects  (with a console login)",
            f"  health        {status_url}healthz  {status_url}readyz  metrics: {status_url}metrics",
            f"  HTTP ingest   POST {status_url}v1/devices/<id>/readings  (X-API-Key of `suitcase devices credentials`)",
        ]
    lines += [
        f"  database      {settings.influx_database}",
        "Try it:",
        f"  suitcase devices add {device} --model native --site office --registry {settings.registry_file}",
        f"  mosquitto_pub -h {settings.mqtt_host} -p {settings.mqtt_port} -q 1 -t {topic} "
        '-m \'{"readings": {"temperature": 21.5, "humidity": 40}}\'',
        f"  influx -host {influx.hostname} -port {influx.port or 8086} -database {settings.influx_database} "
        f'-execute "{query}"',
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def run_local_stack(settings: IngestSettings, options: StackOptions) -> None:
    security = stack_security(options.var_dir)
    with ExitStack() as stack:
        settings, services = start_services(settings, options.var_dir, security, stack)
        extras = [_console_account(settings)]
        fleet = _prepare_demo(settings, options, security, security.mosquitto_password_file.exists(), extras)
        tree = ProvisioningTree(settings, options.grafana_dir)
        try:
            summary = tree.export()
            extras.append(
                f"Grafana       provisioning tree {options.grafana_dir} ({summary}; refreshed when the registry "
                f"changes): GF_PATHS_PROVISIONING={options.grafana_dir.resolve()} grafana server, or "
                "`suitcase dashboards push` to a running Grafana"
            )
        except (RegistryError, OSError) as error:
            extras.append(f"Grafana       provisioning tree not written: {error}")
        asyncio.run(_serve(settings, security, services, extras, fleet=fleet, tree=tree))


def _console_account(settings: IngestSettings) -> str:
    """The banner's line on logging in: the first admin's password when this start made it."""
    password = Accounts(settings.accounts_file).first_admin()
    if password is None:
        return f"login         with your account ({settings.accounts_file}; `suitcase users` manages them)"
    return f"login         {console_login_line(password)}"


def _prepare_demo(
    settings: IngestSettings,
    options: StackOptions,
    security: SecuritySettings,
    broker_secured: bool,
    extras: list[str],
) -> DemoFleet | None:
    """Register the demo fleet before the ingest service loads the registry; None where it cannot run."""
    if options.demo is None:
        return None
    broker = Broker(settings.mqtt_host, settings.mqtt_port, settings.topic_root)
    try:
        environment = simulator_environment(security, broker_secured)
        fleet = DemoFleet(
            options.demo, broker, settings.registry_file, options.var_dir / "demo" / "simulator.log", environment
        )
        fleet.register()
    except DemoError as error:
        extras.append(f"demo fleet    not started: {error}")
        return None
    demo = options.demo
    extras.append(
        f"demo fleet    {demo.sites * demo.devices_per_site} devices ({demo.id_prefix}-*) at {demo.sites} sites, "
        f"every {demo.interval_s:g} s, {demo.faults:.0%} faulty; log {fleet.log_path} (--no-demo to skip)"
    )
    return fleet


async def _serve(
    settings: IngestSettings,
    security: SecuritySettings,
    services: list[str],
    extras: list[str],
    *,
    fleet: DemoFleet | None,
    tree: ProvisioningTree,
) -> None:
    service = IngestService(settings, security)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, service.stop)
    running = asyncio.create_task(service.run())
    refreshing = asyncio.create_task(tree.run())
    try:
        status_url = await _status_url(service, running)
        print(banner(settings, services, extras, status_url), flush=True)
        if fleet is not None:
            # the broker keeps nothing for a subscription that does not exist yet: publish once subscribed
            await _until(lambda: service.consumer is not None and service.consumer.connected, running)
            if not running.done():
                fleet.start()
                log.info("demo fleet started log=%s", fleet.log_path)
        await running
    finally:
        refreshing.cancel()
        if fleet is not None:
            fleet.stop()
        if not running.done():
            service.stop()
            await running


async def _status_url(service: IngestService, running: asyncio.Task[None]) -> str | None:
    if not service.settings.http_enabled:
        return None
    await _until(lambda: service.http_runner is not None and bool(service.http_runner.addresses), running)
    if service.http_runner is None or not service.http_runner.addresses:
        return None
    host, port = service.http_runner.addresses[0][:2]
    if ip_address(host).is_unspecified:  # listening on every interface: this machine's loopback reaches it
        host = "127.0.0.1"
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}/"


async def _until(condition: Callable[[], bool], running: asyncio.Task[None]) -> None:
    """Wait for ``condition``, or for the service to end (it failed to start, or was stopped)."""
    while not condition() and not running.done():
        await asyncio.sleep(0.05)
