"""The one settings tree of iot-suitcase: every ``SUITCASE_*`` setting is declared here or in one package's
settings module, once, with one default and one validation.

Every command reads its settings the same way: flags first, then the environment, then ``.env`` in the
working directory, then the default. A command's settings class is made of the groups it needs (the
ingest service: decoding, registry, broker, InfluxDB, its own), so ``--help`` shows only what applies and a
setting can never mean two things or have two defaults. ``suitcase config`` prints the effective values
and ``suitcase config --markdown`` the README's table (a test checks they agree).
"""

from __future__ import annotations

import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from dotenv import dotenv_values
from pydantic import AfterValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from iot_suitcase.devices.reading import RESERVED_PREFIX

ENV_PREFIX = "SUITCASE_"
TOPIC_LEVEL = r"^[^/+#\s$][^/+#\s]*$"
_SERVICE_NAME = re.compile(rf"^{re.escape(RESERVED_PREFIX)}[A-Za-z0-9._-]{{1,55}}$")
INGEST_CLIENT_PREFIX = f"{RESERVED_PREFIX}ingest"


TENANT_VARIABLE = f"{ENV_PREFIX}TENANT"
TENANTS_FILE_VARIABLE = f"{ENV_PREFIX}TENANTS_FILE"
DEFAULT_TENANTS_FILE = Path("var/tenants.toml")
ENV_FILE = Path(".env")


def tenants_file_path() -> Path:
    """Where the tenants file is, read as every setting is (variable, then ``.env``): it is needed before any
    settings class can be, since it locates the file that replaces ``.env`` for a tenant."""
    configured = os.environ.get(TENANTS_FILE_VARIABLE) or dotenv_values(ENV_FILE).get(TENANTS_FILE_VARIABLE)
    return Path(configured or DEFAULT_TENANTS_FILE)


TENANT_NAME = r"^[a-z][a-z0-9-]{1,30}$"


def tenant_folder(tenant: str, tenants_file: Path) -> Path:
    """Where everything of a tenant's lives: ``tenants/<name>/`` beside the tenants file."""
    return tenants_file.parent / "tenants" / tenant


def settings_of(env_file: Path, keys: tuple[str, ...], who: str) -> str:
    """The lines of a settings file (``.env``, a ``tenant.env``) that ``keys`` name: a file for one service that
    holds no other account's secrets."""
    lines = env_file.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.partition("=")[0] in keys]
    return "\n".join([f"# The {who}'s own settings, split from {env_file.name}.", *kept, ""])


def tenant_env_file(tenant: str) -> Path:
    """A tenant's own settings file, in place of ``.env``: ``tenant.env`` in its folder."""
    if not re.fullmatch(TENANT_NAME, tenant):
        raise ValueError(f"{TENANT_VARIABLE}={tenant[:40]!r} is not a tenant name: 2-31 of a-z 0-9 -")
    return tenant_folder(tenant, tenants_file_path()) / "tenant.env"


class SuitcaseSettings(BaseSettings):
    """How every settings class reads: ``SUITCASE_*`` variables and ``.env``; flags in kebab case. An empty
    variable counts as unset: compose passes ``${VAR:-}`` of a line deleted from .env as one.

    With ``SUITCASE_TENANT`` set (``suitcase --tenant NAME``), a tenant's settings file takes the place of
    ``.env``: a tenant's command never sees the installation's own secrets or another tenant's."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        frozen=True,
        cli_kebab_case=True,
        extra="ignore",
        env_ignore_empty=True,
    )

    def __init__(self, **values: Any) -> None:
        # A tenant's file is given to pydantic-settings as the env file itself, so .env is not even opened: on a
        # server a tenant's service (its own user) may not read the installation's .env at all.
        tenant = os.environ.get(TENANT_VARIABLE)
        if tenant and "_env_file" not in values:
            values["_env_file"] = tenant_env_file(tenant)
        super().__init__(**values)


class TenantSettings(SuitcaseSettings):
    tenant: str | None = Field(
        default=None,
        pattern=TENANT_NAME,
        description="The tenant a command works for (`suitcase --tenant NAME`); its settings file "
        "(tenants/NAME/tenant.env beside the tenants file) replaces .env. Unset: the installation's own.",
    )
    tenants_file: Path = Field(
        default=DEFAULT_TENANTS_FILE, description="The tenants of a shared installation (`suitcase tenants`)."
    )


class TopicSettings(TenantSettings):
    topic_root: str = Field(default="suitcase", pattern=TOPIC_LEVEL, description="First topic level of native devices.")


class DecodeSettings(TopicSettings):
    """Limits and names that decoding depends on (`suitcase decode` and the ingest service alike)."""

    max_payload_bytes: int = Field(default=64 * 1024, ge=1, description="Largest payload accepted, in bytes.")
    device_models_file: Path | None = Field(
        default=None,
        description='TOML file mapping device ids or DevEUIs to models: [models] "a84041000181c0d8" = "dragino/lds02".',
    )
    future_tolerance_s: float = Field(
        default=600.0, ge=0, description="How far a device clock may run ahead of the server's, in seconds."
    )
    javascript_decoders_file: Path | None = Field(
        default=Path("var/decoders.toml"),
        description="Models decoded by a vendor's JavaScript decoder, each with its script and field map "
        "(devices/codecs/javascript/README.md); absent: none.",
    )


class RegistrySettings(SuitcaseSettings):
    registry_file: Path = Field(
        default=Path("var/registry.yaml"),
        description="The device registry: one YAML file of every device (devices/registry/README.md).",
    )
    max_devices: int | None = Field(
        default=None,
        ge=0,
        description="Most devices the registry may hold (a tenant's quota on a shared installation): adding one "
        "more is refused, saying so, whoever adds it (command, console, automatic registration). Unset: no limit.",
    )


class CredentialSettings(SuitcaseSettings):
    credentials_file: Path = Field(
        default=Path("var/credentials.yaml"), description="Device credential hashes (`suitcase devices credentials`)."
    )


def _service_account(value: str) -> str:
    if not _SERVICE_NAME.match(value):
        raise ValueError(
            f"{value!r}: the platform's broker accounts are named {RESERVED_PREFIX}<name> (A-Z a-z 0-9 . _ -), "
            "a name no device id can have"
        )
    return value


ServiceAccount = Annotated[str, AfterValidator(_service_account)]


class IngestAccountSettings(SuitcaseSettings):
    """The ingest service's broker account (named ``suitcase-...``, like every account of the platform's own)."""

    mqtt_username: ServiceAccount = Field(
        default=f"{RESERVED_PREFIX}ingest", description="MQTT user of the ingest service."
    )
    mqtt_password: SecretStr | None = Field(default=None, description="MQTT password of the ingest service.")


class SimulatorAccountSettings(SuitcaseSettings):
    """The demo fleet's broker account."""

    simulator_mqtt_username: ServiceAccount = Field(
        default=f"{RESERVED_PREFIX}simulator", description="MQTT user of the demo fleet (`suitcase simulate`)."
    )
    simulator_mqtt_password: SecretStr | None = Field(
        default=None,
        description="Its password; when set, the broker files let this user publish every format's uplink topics "
        "for any device (a demo account: leave it unset where no simulator runs).",
    )


class BrokerFileSettings(SuitcaseSettings):
    """Where `suitcase init` and `suitcase devices credentials` write the broker's password and ACL files."""

    mosquitto_password_file: Path = Field(
        default=Path("var/mosquitto/passwd"),
        description="Mosquitto password file of the device listener: devices, the demo fleet, network servers.",
    )
    mosquitto_acl_file: Path = Field(default=Path("var/mosquitto/acl"), description="ACL file of the device listener.")
    mosquitto_service_password_file: Path = Field(
        default=Path("var/mosquitto/passwd-service"),
        description="Mosquitto password file of the service listener: the ingest service's account only.",
    )
    mosquitto_service_acl_file: Path = Field(
        default=Path("var/mosquitto/acl-service"), description="ACL file of the service listener."
    )
    mosquitto_pid_file: Path = Field(
        default=Path("var/mosquitto/mosquitto.pid"), description="PID of the broker to send SIGHUP to (--reload)."
    )


class BrokerSettings(SuitcaseSettings):
    """Where the broker is, as this process reaches it."""

    mqtt_host: str = Field(default="127.0.0.1", description="MQTT broker host.")
    mqtt_port: int = Field(
        default=1883,
        ge=1,
        le=65535,
        description="The broker's port for devices (and for the ingest service, "
        "unless SUITCASE_MQTT_SERVICE_PORT is set).",
    )
    mqtt_service_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="The broker's listener for the ingest service only (no device account may log in there, "
        "so none can take its session); the local stack and compose run one. Unset: SUITCASE_MQTT_PORT.",
    )
    mqtt_tls_ca: Path | None = Field(
        default=None, description="CA certificate of the broker: setting it switches MQTT to TLS."
    )
    mqtt_tls_cert: Path | None = Field(default=None, description="Client certificate, if the broker asks for one.")
    mqtt_tls_key: Path | None = Field(default=None, description="Private key of the client certificate.")

    @property
    def service_port(self) -> int:
        """The port the ingest service connects to."""
        return self.mqtt_service_port or self.mqtt_port


class InfluxFlavour(StrEnum):
    """Which InfluxDB API to speak."""

    V1 = "v1"  # /write?db=&rp= with user/password: InfluxDB 1.x, and the v1 compatibility API of 2.x/3.x
    V2 = "v2"  # /api/v2/write?org=&bucket= with a token: InfluxDB 2.x, 3.x, 1.8+


class InfluxSettings(SuitcaseSettings):
    influx_flavour: InfluxFlavour = Field(default=InfluxFlavour.V1, description="InfluxDB API: v1 or v2.")
    influx_url: str = Field(default="http://127.0.0.1:8086", description="InfluxDB base URL.")
    influx_database: str = Field(default="suitcase", min_length=1, description="v1: database to write to and read.")
    influx_retention_policy: str | None = Field(
        default=None, description="v1: retention policy (default: the database's)."
    )
    influx_username: str | None = Field(default=None, description="v1: InfluxDB user.")
    influx_password: SecretStr | None = Field(default=None, description="v1: its password.")
    influx_org: str = Field(default="suitcase", description="v2: organisation.")
    influx_bucket: str | None = Field(default=None, description="v2: bucket (default: the database name).")
    influx_token: SecretStr | None = Field(default=None, description="v2: API token.")
    influx_read_username: str | None = Field(
        default=None,
        description="v1: a user that may only read (Grafana, the console's charts); the ingest service then "
        "writes as SUITCASE_INFLUX_USERNAME and reads as this one. Unset: one user for both.",
    )
    influx_read_password: SecretStr | None = Field(default=None, description="v1: its password.")
    influx_read_token: SecretStr | None = Field(
        default=None, description="v2: a token that may only read the bucket, as the read user. Unset: one token."
    )

    @property
    def bucket(self) -> str:
        return self.influx_bucket or self.influx_database

    @property
    def separate_reader(self) -> bool:
        """Whether reading has credentials of its own, for this flavour."""
        if self.influx_flavour is InfluxFlavour.V2:
            return self.influx_read_token is not None
        return self.influx_read_username is not None

    @property
    def reader(self) -> tuple[str | None, SecretStr | None, SecretStr | None]:
        """(user, password, token) to read with: the read-only credentials where this flavour has them."""
        if self.separate_reader:
            return self.influx_read_username, self.influx_read_password, self.influx_read_token
        return self.influx_username, self.influx_password, self.influx_token


class DataDirSettings(SuitcaseSettings):
    data_dir: Path = Field(
        default=Path("var/ingest"),
        description="Where the write-ahead log and the rejects store live; one per ingest process.",
    )


class HttpSettings(SuitcaseSettings):
    """Where the ingest service serves HTTP (ingestion, console, health), and where simulators post."""

    http_host: str = Field(
        default="127.0.0.1", description="HTTP listen address; 0.0.0.0 to accept devices on the network."
    )
    http_port: int = Field(default=8080, ge=0, le=65535, description="HTTP port (0: any free port, logged).")
    http_tls_cert: Path | None = Field(
        default=None,
        description="Serve the console and HTTP ingestion over HTTPS with this certificate (PEM, chain included); "
        "compose uses the one `suitcase init` made. Unset: plain HTTP (behind a TLS proxy, or on loopback).",
    )
    http_tls_key: Path | None = Field(default=None, description="The private key of SUITCASE_HTTP_TLS_CERT.")

    @property
    def http_scheme(self) -> str:
        return "https" if self.http_tls_cert else "http"


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"
