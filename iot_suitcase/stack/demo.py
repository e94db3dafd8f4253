"""The demo fleet of the local stack: `suitcase simulate` as a child process, so a fresh stack shows data.

Its devices are registered before the ingest service starts (so none of their first messages is rejected
as unknown), and it publishes only once the ingest service is subscribed (the broker keeps nothing for a
subscription that does not exist yet). It runs in its own session, so Ctrl-C reaches the stack, which stops
it after the ingest service; its output goes to a log file instead of the stack's terminal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from iot_suitcase.devices.credentials.settings import SecuritySettings

SIMULATED_YEAR_S = 365 * 24 * 3600  # "until Ctrl-C": longer than any demo runs


class DemoSettings(BaseModel):
    """What the demo fleet looks like (flags of `suitcase up`)."""

    model_config = ConfigDict(frozen=True)

    sites: int = Field(default=2, ge=1, le=20, description="Aarhus districts with demo devices.")
    devices_per_site: int = Field(default=6, ge=1, le=200, description="Demo devices at each site.")
    interval_s: float = Field(default=10.0, gt=0, description="Seconds between a demo device's messages.")
    faults: float = Field(default=0.02, ge=0, le=1, description="Share of faulty messages, to show rejects.")
    id_prefix: str = Field(default="demo", pattern=r"^[A-Za-z0-9_-]+$", description="Demo device ids' prefix.")


@dataclass(frozen=True, slots=True)
class Broker:
    host: str
    port: int
    topic_root: str


class DemoFleet:
    """Register, start and stop the demo fleet; ``log_path`` holds its progress and final summary."""

    def __init__(
        self, demo: DemoSettings, broker: Broker, registry_file: Path, log_path: Path, environment: dict[str, str]
    ) -> None:
        self.demo = demo
        self.broker = broker
        self.registry_file = registry_file
        self.log_path = log_path
        self.environment = environment  # the simulator's, with its broker credentials
        self.process: subprocess.Popen[bytes] | None = None

    def fleet_args(self) -> list[str]:
        demo = self.demo
        return [
            "--sites",
            str(demo.sites),
            "--devices-per-site",
            str(demo.devices_per_site),
            "--id-prefix",
            demo.id_prefix,
            "--interval",
            str(demo.interval_s),
            "--skew",
            str(min(demo.interval_s, 5.0)),
            "--faults",
            str(demo.faults),
        ]

    def register(self) -> str:
        """Add the fleet to the registry (idempotent); returns the simulator's own report."""
        result = subprocess.run(
            [*_suitcase(), "simulate", *self.fleet_args(), "--register", str(self.registry_file), "--register-only"],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise DemoError(f"registering the demo fleet failed: {result.stderr.strip() or result.stdout.strip()}")
        return result.stdout.strip()

    def start(self) -> None:
        broker = self.broker
        command = [
            *_suitcase(),
            "simulate",
            *self.fleet_args(),
            "--duration",
            str(SIMULATED_YEAR_S),
            "--mqtt-host",
            broker.host,
            "--mqtt-port",
            str(broker.port),
            "--topic-root",
            broker.topic_root,
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.environment, start_new_session=True
            )

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGINT (the simulator prints its summary), then SIGKILL if it does not end in time."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class DemoError(RuntimeError):
    """The demo fleet cannot run; the message says why and what to do."""


def simulator_environment(security: SecuritySettings, broker_secured: bool) -> dict[str, str]:
    """The child's environment: the demo account's broker credentials where the broker asks for them."""
    environment = dict(os.environ)
    password = security.simulator_mqtt_password
    if password is not None:
        environment["SUITCASE_SIMULATOR_MQTT_USERNAME"] = security.simulator_mqtt_username
        environment["SUITCASE_SIMULATOR_MQTT_PASSWORD"] = password.get_secret_value()
    elif broker_secured:
        raise DemoError(
            "the broker requires credentials and .env has no SUITCASE_SIMULATOR_MQTT_PASSWORD for the demo fleet: "
            "add one (any long random string) and run `suitcase init --broker-files`, or start with --no-demo"
        )
    return environment


def _suitcase() -> list[str]:
    return [sys.executable, "-m", "iot_suitcase"]
