"""Configuration of the ingest service: its own settings on top of the shared groups (devices/settings.py)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr

from iot_suitcase.devices.opendata.settings import OpenDataSettings
from iot_suitcase.devices.settings import (
    INGEST_CLIENT_PREFIX,
    TOPIC_LEVEL,
    BrokerSettings,
    CredentialSettings,
    DataDirSettings,
    DecodeSettings,
    HttpSettings,
    InfluxFlavour,
    InfluxSettings,
    IngestAccountSettings,
)
from iot_suitcase.ingest.console.settings import ConsoleSettings
from iot_suitcase.ingest.intake.directory import UnknownDevices

__all__ = ["InfluxFlavour", "IngestSettings", "LogFormat"]


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class IngestSettings(
    DecodeSettings,
    OpenDataSettings,
    CredentialSettings,
    BrokerSettings,
    IngestAccountSettings,
    InfluxSettings,
    DataDirSettings,
    HttpSettings,
    ConsoleSettings,
):
    """Everything `suitcase ingest` needs; defaults suit the local stack of `scripts/up`."""

    mqtt_client_id: str = Field(
        default=INGEST_CLIENT_PREFIX,
        pattern=rf"^{INGEST_CLIENT_PREFIX}[A-Za-z0-9._-]{{0,40}}$",
        description=f"Fixed client id: the broker keeps this session's messages while the service is away. It "
        f"begins with {INGEST_CLIENT_PREFIX}, a name no device or other account can connect with.",
    )
    mqtt_session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=0, description="How long the broker keeps the session after a disconnect."
    )
    mqtt_keepalive_s: int = Field(default=30, ge=5, le=65535, description="MQTT keepalive interval.")
    mqtt_receive_maximum: int = Field(
        default=20000,
        ge=1,
        le=65535,
        description="Most unacknowledged messages the broker may send at once (MQTT v5 Receive Maximum).",
    )
    mqtt_rate_per_s: float | None = Field(
        default=None,
        ge=1,
        description="Most MQTT messages per second this service takes in (a tenant's quota on a shared "
        "installation): beyond it the service reads more slowly and the broker keeps the rest queued, nothing is "
        "dropped. Unset: as fast as it can.",
    )
    mqtt_share_group: str | None = Field(
        default=None,
        pattern=TOPIC_LEVEL,
        description="Join a shared subscription $share/<group>/... so several workers split the load.",
    )
    workers: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        default=1,
        description="Ingest workers on one shared subscription, each with its own log and session, supervised by "
        "this process; auto: one per CPU core. Worker 0 serves HTTP and the console and reports for all.",
    )
    worker_index: int | None = Field(
        default=None, ge=0, description="Set by the supervisor of several workers: which worker this process is."
    )
    worker_token: SecretStr | None = Field(
        default=None,
        description="Set by the supervisor of several workers, new each start: the token they ask each other "
        "with (readiness, metrics, device states), on loopback.",
    )
    worker_peers: list[str] = Field(
        default_factory=list,
        description="Set by the supervisor for worker 0: the other workers' loopback HTTP addresses, whose "
        "readiness and metrics worker 0 reports with its own.",
    )
    influx_create_database: bool = Field(
        default=True, description="v1: CREATE DATABASE at start-up if it is missing (needs admin rights)."
    )
    unknown_devices: UnknownDevices = Field(
        default=UnknownDevices.REJECT,
        description="Messages of devices not in the registry: reject (kept as unknown_device rejects), "
        "register (into the quarantine site), or accept (development only).",
    )
    broker_log_file: Path | None = Field(
        default=None,
        description="Mosquitto's log file, read for refused logins and denied publications to show them in the "
        "console (the local stack sets it for its own broker).",
    )
    http_enabled: bool = Field(
        default=True, description="Serve HTTP: ingestion, the console, health checks and metrics."
    )
    http_rate_per_s: float = Field(default=1.0, gt=0, description="Per-device HTTP requests per second, on average.")
    http_burst: int = Field(default=20, ge=1, description="Per-device HTTP requests allowed at once.")
    wal_max_bytes: int = Field(
        default=1 << 30,
        ge=1024,
        description="Size bound of the not-yet-written part of the write-ahead log; when it is reached the "
        "service stops acknowledging and the broker keeps the messages.",
    )
    wal_segment_bytes: int = Field(default=16 << 20, ge=1024, description="Size of one write-ahead log file.")
    rejects_file: Path | None = Field(
        default=None,
        description="The rejects store (default: rejects.sqlite3 in SUITCASE_DATA_DIR); the workers of one "
        "service share worker 0's, so the console and `suitcase rejects` see every worker's.",
    )
    rejects_max_rows: int = Field(
        default=100_000, ge=1, description="Most rejects kept in the rejects store (the oldest go first)."
    )
    batch_size: int = Field(default=5000, ge=1, le=100_000, description="Most messages in one InfluxDB write.")
    batch_interval_s: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="Under light load, how long the writer waits to gather a batch, in seconds.",
    )
    write_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one InfluxDB write, in seconds.")
    shutdown_timeout_s: float = Field(
        default=8.0, gt=0, description="On SIGTERM, how long to keep flushing before exiting anyway."
    )
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$", description="Log level.")
    log_format: LogFormat = Field(default=LogFormat.TEXT, description="Logs as key=value text or JSON lines.")

    @property
    def rejects_path(self) -> Path:
        return self.rejects_file or self.data_dir / "rejects.sqlite3"
