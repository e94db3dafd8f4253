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
