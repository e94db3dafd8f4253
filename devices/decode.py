"""The decode pipeline shared by every format: size checks, format choice, canonical readings.

Formats only unwrap their envelope; this module applies the catalog once for all of them, so a
"temperature" is in degC and inside its plausible range whatever the vendor sent.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from devices.catalog import Catalog, load_catalog
from devices.errors import DecodeError, RejectCode
from devices.formats import FORMATS, Decoded, FormatContext, Message, PayloadFormat
from devices.reading import Reading, check_device_id, checked_reading
from devices.timestamps import check_window

AUTO = "auto"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decoded message: the format that read it, the device it is from, its canonical readings."""

    format: str
    device_id: str
    readings: list[Reading]


class DecodeOptions(BaseSettings):
    """Limits and names that decoding depends on (shared by `suitcase decode` and the ingest service).

    Read from ``SUITCASE_*`` environment variables, so one setting governs the CLI and the service alike.
    """

    model_config = SettingsConfigDict(
        env_prefix="SUITCASE_", env_file=".env", frozen=True, cli_kebab_case=True, extra="ignore"
    )

    max_payload_bytes: int = Field(default=64 * 1024, ge=1, description="Largest payload accepted, in bytes.")
    topic_root: str = Field(
        default="suitcase", pattern=r"^[^/+#\s]+$", description="First topic level of native devices."
    )
    device_models_file: Path | None = Field(
        default=None,
        description='TOML file mapping device ids or DevEUIs to models: [models] "a84041000181c0d8" = "dragino/lds02".',
    )
    future_tolerance_s: float = Field(
        default=600.0, ge=0, description="How far a device clock may run ahead of the server's, in seconds."
    )


class Decoder:
    """Turns a message into canonical readings, or raises ``DecodeError`` with a specific code."""

    def __init__(
        self,
        options: DecodeOptions | None = None,
        catalog: Catalog | None = None,
        formats: dict[str, PayloadFormat] | None = None,
    ) -> None:
        self.options = options or DecodeOptions()
        self.catalog = catalog or load_catalog()
        self.formats = formats if formats is not None else FORMATS
        self.context = FormatContext(
            topic_root=self.options.topic_root, device_models=load_device_models(self.options.device_models_file)
        )
        self._future = timedelta(seconds=self.options.future_tolerance_s)

    def add_device_models(self, models: dict[str, str]) -> None:
        """Models from the registry (device id or DevEUI -> vendor/model), over those of the models file."""
        file_models = load_device_models(self.options.device_models_file)
        self.context = replace(self.context, device_models={**file_models, **models})

    def topic_filters(self) -> list[str]:
        """Every MQTT subscription the formats need."""
        return [topic for fmt in self.formats.values() for topic in fmt.topic_filters(self.context)]

    def choose_format(self, message: Message, name: str = AUTO) -> PayloadFormat:
        if name != AUTO:
            try:
                return self.formats[name]
            except KeyError:
                raise DecodeError(
                    RejectCode.UNKNOWN_FORMAT,
                    f"unknown format {name!r}; known: {', '.join([AUTO, *self.formats])}",
                ) from None
        if message.topic is not None:
            for fmt in self.formats.values():
                if fmt.matches_topic(message.topic, self.context):
                    return fmt
            raise DecodeError(RejectCode.UNKNOWN_TOPIC, f"no payload format uses the topic {message.topic!r}")
        for fmt in self.formats.values():
            if fmt.sniff(message.payload):
                return fmt
        raise DecodeError(RejectCode.UNKNOWN_FORMAT, "payload matches no known format; give --format or --topic")

    def decode(self, message: Message, format_name: str = AUTO) -> list[Reading]:
        return self.decode_message(message, format_name).readings

    def decode_message(self, message: Message, format_name: str = AUTO) -> Outcome:
        """Readings, plus which format decoded them and whose they are (also when there are none)."""
        size = len(message.payload)
        if size == 0 or message.payload.isspace():
            raise DecodeError(RejectCode.EMPTY_PAYLOAD, "payload is empty")
        if size > self.options.max_payload_bytes:
            raise DecodeError(
                RejectCode.PAYLOAD_TOO_LARGE,
                f"payload is {size} bytes, over the limit of {self.options.max_payload_bytes} bytes",
            )
        fmt = self.choose_format(message, format_name)
        decoded = fmt.decode(message, self.context)
        try:
            return Outcome(fmt.name, decoded.device_id, self._canonical(decoded, message.received_at))
        except DecodeError as error:
            error.device_id = error.device_id or decoded.device_id
            raise

    def _canonical(self, decoded: Decoded, received_at: datetime) -> list[Reading]:
        device_id = check_device_id(decoded.device_id)
        now = datetime.now(UTC)
        message_time = received_at if decoded.time is None else check_window(decoded.time, now, self._future)
        readings = []
        catalog = self.catalog
        for raw in decoded.readings:
            quantity = catalog.quantity(raw.quantity)
            value = catalog.canonical_value(quantity, raw.value, raw.unit)
            time = message_time if raw.time is None else check_window(raw.time, now, self._future)
            # Every field was checked above; skip pydantic's second pass on the hot path.
            readings.append(checked_reading(device_id, time, quantity.name, float(value), quantity.unit))
        return readings


def load_device_models(path: Path | None) -> dict[str, str]:
    """Device id or DevEUI -> vendor/model, from a small TOML file (until the device registry takes over)."""
    if path is None or str(path) in ("", "."):
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {str(device).lower(): str(model) for device, model in data.get("models", {}).items()}
