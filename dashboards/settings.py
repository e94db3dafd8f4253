"""Settings of `suitcase dashboards export|push`: ``SUITCASE_*`` environment variables and flags.

The InfluxDB settings share their names with the ingest service's (``SUITCASE_INFLUX_*``), so one
environment configures both the writer and the dashboards that read what it wrote. Secrets are read
here only to push them to a running Grafana; exported files reference them as ``$__env{...}`` instead.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from iot_suitcase.devices.settings import InfluxFlavour, InfluxSettings, TenantSettings

__all__ = ["DashboardSettings", "InfluxFlavour", "PushSettings"]


class DashboardSettings(InfluxSettings, TenantSettings):
    """What export and push both need: how Grafana reaches InfluxDB, and where alerts go; for a tenant, which
    Grafana organisation is its own."""

    grafana_influx_url: str | None = Field(
        default=None,
        description="InfluxDB URL as Grafana reaches it, e.g. http://influxdb:8086 in docker-compose "
        "(default: SUITCASE_INFLUX_URL).",
    )
    alert_email: str | None = Field(
        default=None, description="Where alerts are mailed (needs SMTP configured in Grafana)."
    )
    alert_webhook_url: str | None = Field(default=None, description="Where alerts are POSTed as JSON.")
    grafana_provisioning_dir: str = Field(
        default="/etc/grafana/provisioning",
        description="Where Grafana sees the exported tree (the dashboard provider's path is below it).",
    )

    grafana_org_id: int = Field(
        default=1,
        ge=1,
        description="The Grafana organisation the export provisions into. A tenant's must be its own "
        "(Administration > Organizations), so its users see only its datasource and dashboards.",
    )

    @field_validator("alert_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or any(char.isspace() for char in value)):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @field_validator("alert_webhook_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("the webhook URL must start with http:// or https://")
        return value

    @property
    def scope(self) -> str:
        """The name of what is generated for this installation or tenant: file names, the dashboard provider."""
        return "iot-suitcase" if self.tenant is None else f"iot-suitcase-{self.tenant}"

    def secret_env(self, name: str) -> str:
        """The variable Grafana reads a secret from: one Grafana serves every tenant, each with its own."""
        return name if self.tenant is None else f"{name}_{self.tenant.upper().replace('-', '_')}"

    @property
    def datasource_url(self) -> str:
        return self.grafana_influx_url or self.influx_url

    @property
    def influx_db_name(self) -> str:
        """The database name InfluxQL queries use: v2 maps it to the bucket (a bucket's virtual DBRP mapping)."""
        if self.influx_flavour is InfluxFlavour.V2:
            return self.influx_bucket or self.influx_database
        return self.influx_database


class PushSettings(DashboardSettings):
    """Push also needs the Grafana to talk to."""

    grafana_url: str = Field(default="http://127.0.0.1:3000", description="Base URL of the Grafana to update.")
    grafana_token: SecretStr | None = Field(
        default=None,
        description="Grafana service-account token (Editor or Admin); prefer SUITCASE_GRAFANA_TOKEN to the flag.",
    )
    grafana_timeout_s: float = Field(default=30.0, gt=0, description="Timeout of one Grafana API call.")
