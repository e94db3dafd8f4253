"""Configuration of the ingest service: ``SUITCASE_*`` environment variables and flags, validated."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr

from devices.decode import DecodeOptions
from ingest.directory import UnknownDevices


class InfluxFlavour(StrEnum):
    """Which InfluxDB write API to speak."""

    V1 = "v1"  # /write?db=&rp= with user/password: InfluxDB 1.x, and the v1 compatibility API of 2.x/3.x
    V2 = "v2"  # /api/v2/write?org=&bucket= with a token: InfluxDB 2.x, 3.x, 1.8+


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class IngestSettings(DecodeOptions):
    """Everything `suitcase ingest` needs; defaults suit the local stack of `scripts/up`."""

    mqtt_host: str = Field(default="127.0.0.1", description="MQTT broker host.")
    mqtt_port: int = Field(default=1883, ge=1, le=65535, description="MQTT broker port.")
    mqtt_username: str | None = Field(default=None, description="MQTT user of the ingest service.")
    mqtt_password: SecretStr | None = Field(default=None, description="MQTT password of the ingest service.")
    mqtt_client_id: str = Field(
        default="suitcase-ingest",
        min_length=1,
        description="Fixed client id: the broker keeps this session's messages while the service is away.",
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
    mqtt_tls_ca: Path | None = Field(
        default=None, description="CA certificate of the broker: setting it switches MQTT to TLS."
    )
    mqtt_tls_cert: Path | None = Field(default=None, description="Client certificate, if the broker asks for one.")
    mqtt_tls_key: Path | None = Field(default=None, description="Private key of the client certificate.")
    mqtt_share_group: str | None = Field(
        default=None,
        pattern=r"^[^/+#\s]+$",
        description="Join a shared subscription $share/<group>/... so several workers split the load.",
    )
    influx_flavour: InfluxFlavour = Field(default=InfluxFlavour.V1, description="InfluxDB write API: v1 or v2.")
    influx_url: str = Field(default="http://127.0.0.1:8086", description="InfluxDB base URL.")
    influx_database: str = Field(default="suitcase", min_length=1, description="v1: database to write to.")
    influx_retention_policy: str | None = Field(
        default=None, description="v1: retention policy (default: the database's)."
    )
    influx_username: str | None = Field(default=None, description="v1: user.")
    influx_password: SecretStr | None = Field(default=None, description="v1: password.")
    influx_create_database: bool = Field(
        default=True, description="v1: CREATE DATABASE at start-up if it is missing (needs admin rights)."
    )
    influx_org: str = Field(default="suitcase", description="v2: organisation.")
    influx_bucket: str | None = Field(default=None, description="v2: bucket (default: the database name).")
    influx_token: SecretStr | None = Field(default=None, description="v2: API token.")
    registry_file: Path = Field(
        default=Path("var/registry.yaml"), description="The device registry (see `suitcase devices`)."
    )
    unknown_devices: UnknownDevices = Field(
        default=UnknownDevices.REJECT,
        description="Messages of devices not in the registry: reject (kept as unknown_device rejects), "
        "register (into the quarantine site), or accept (development only).",
    )
    http_enabled: bool = Field(default=True, description="Serve HTTP ingestion (and, later, the status page).")
    http_host: str = Field(
        default="127.0.0.1", description="HTTP listen address; 0.0.0.0 to accept devices on the network."
    )
    http_port: int = Field(default=8080, ge=0, le=65535, description="HTTP port (0: any free port, logged).")
    http_rate_per_s: float = Field(default=1.0, gt=0, description="Per-device HTTP requests per second, on average.")
    http_burst: int = Field(default=20, ge=1, description="Per-device HTTP requests allowed at once.")
    credentials_file: Path = Field(
        default=Path("var/credentials.yaml"), description="Device credential hashes (`suitcase devices credentials`)."
    )
    data_dir: Path = Field(
        default=Path("var/ingest"),
        description="Where the write-ahead log and the rejects store live; one per ingest process.",
    )
    wal_max_bytes: int = Field(
        default=1 << 30,
        ge=1024,
        description="Size bound of the not-yet-written part of the write-ahead log; when it is reached the "
        "service stops acknowledging and the broker keeps the messages.",
    )
    wal_segment_bytes: int = Field(default=16 << 20, ge=1024, description="Size of one write-ahead log file.")
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
    def bucket(self) -> str:
        return self.influx_bucket or self.influx_database
