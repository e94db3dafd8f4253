"""Where credentials and the broker's password/ACL files live (``SUITCASE_*`` variables or ``.env``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SecuritySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUITCASE_", env_file=".env", extra="ignore")

    credentials_file: Path = Field(default=Path("var/credentials.yaml"), description="Device credential hashes.")
    mosquitto_password_file: Path = Field(
        default=Path("var/mosquitto/passwd"), description="Mosquitto password file written from the credentials."
    )
    mosquitto_acl_file: Path = Field(default=Path("var/mosquitto/acl"), description="Mosquitto ACL file.")
    mosquitto_pid_file: Path = Field(
        default=Path("var/mosquitto/mosquitto.pid"), description="PID of the broker to send SIGHUP to (--reload)."
    )
    topic_root: str = Field(default="suitcase", description="First topic level of native devices.")
    mqtt_username: str = Field(default="suitcase-ingest", description="MQTT user of the ingest service.")
    mqtt_password: SecretStr | None = Field(default=None, description="MQTT password of the ingest service.")
    simulator_mqtt_username: str = Field(
        default="suitcase-simulator", description="MQTT user of the demo fleet (`suitcase simulate`)."
    )
    simulator_mqtt_password: SecretStr | None = Field(
        default=None,
        description="Its password; when set, the broker files let this user publish every format's uplink topics "
        "for any device (a demo account: leave it unset where no simulator runs).",
    )
