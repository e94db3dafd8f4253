"""Where a scope's open-data choices are (the installation's, or a tenant's in its folder)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from iot_suitcase.devices.settings import RegistrySettings


class OpenDataSettings(RegistrySettings):
    opendata_file: Path = Field(
        default=Path("var/opendata.toml"),
        description="What is published as open data, under which licence (`suitcase opendata`); absent: nothing.",
    )


# What the open-data server reads of a settings file (.env, or a tenant's tenant.env): where the readings are and
# the reader's account; nothing that writes, publishes or logs in anywhere else. Its systemd units get a file
# with these lines only.
SERVER_SETTINGS = (
    "SUITCASE_INFLUX_URL",
    "SUITCASE_INFLUX_FLAVOUR",
    "SUITCASE_INFLUX_DATABASE",
    "SUITCASE_INFLUX_RETENTION_POLICY",
    "SUITCASE_INFLUX_ORG",
    "SUITCASE_INFLUX_BUCKET",
    "SUITCASE_INFLUX_READ_USERNAME",
    "SUITCASE_INFLUX_READ_PASSWORD",
    "SUITCASE_INFLUX_READ_TOKEN",
)
# A tenant's server also needs its port, which its tenant.env says (its files are where its unit says).
TENANT_SERVER_SETTINGS = (*SERVER_SETTINGS, "SUITCASE_OPENDATA_PORT")
SERVER_ENV_FILE = "opendata.env"  # that file, in a tenant's folder beside its tenant.env
