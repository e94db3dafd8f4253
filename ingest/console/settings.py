"""Settings of the console: where its accounts live, how long a login lasts, who may read ``/metrics``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from iot_suitcase.devices.settings import SuitcaseSettings


class ConsoleSettings(SuitcaseSettings):
    accounts_file: Path = Field(
        default=Path("var/accounts.sqlite3"),
        description="Console accounts (Argon2id password hashes) and their sessions (`suitcase users`).",
    )
    session_idle_hours: float = Field(
        default=12.0, gt=0, le=24 * 7, description="A console login ends after this long without a request."
    )
    cookie_secure: bool = Field(
        default=True,
        description="Send the login cookie over HTTPS only (browsers count http://localhost as secure). Serve the "
        "console through TLS; set false only on a trusted network without it, or logins will not stick.",
    )
    grafana_public_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Grafana as staff's browsers reach it (https://grafana.example.org): the console links each "
        "device to its kind's dashboard there.",
    )
    map_tiles_url: str = Field(
        default="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        pattern=r"^(https?://[^\s'\"]+\{z\}[^\s'\"]*|off)$",
        description="Map tiles for choosing a device's location on the add-device form: a URL template with "
        "{z}, {x} and {y} (OpenStreetMap's by default: light use only, see its tile usage policy; a "
        "municipality's own tile server is better). off: no map, coordinates are typed.",
    )

    @property
    def map_tiles(self) -> str | None:
        """The tile URL template, or None when the map is off."""
        return None if self.map_tiles_url == "off" else self.map_tiles_url

    map_attribution: str = Field(
        default="© OpenStreetMap contributors",
        description="The map tiles' attribution, shown on the map as their licence requires.",
    )
    device_mqtt_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="The port devices reach the broker on, for the console's connection settings (compose: "
        "8883, TLS). Unset: SUITCASE_MQTT_PORT.",
    )
    device_ca_file: Path | None = Field(
        default=None,
        description="The CA certificate devices check the broker with (compose: the one `suitcase init` made): "
        "the console offers it for download and its examples connect over TLS.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token a scraper sends to read /metrics (`suitcase init` writes one); without it, "
        "/metrics needs a console login like every other page.",
    )
