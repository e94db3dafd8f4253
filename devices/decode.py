"""The decode pipeline shared by every format: size checks, format choice, canonical readings.

Formats only unwrap their envelope; this module applies the catalog once for all of them, so a
"temperature" is in degC and inside its plausible range whatever the vendor sent.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from iot_suitcase.devices.catalog import Catalog, load_catalog
from iot_suitcase.devices.codecs import install_javascript_models
from iot_suitcase.devices.errors import DecodeError, RejectCode
from iot_suitcase.devices.formats import (
    FORMATS,
    Decoded,
    FormatContext,
    Message,
    PayloadFormat,
    PlainFormat,
    publish_filters,
)
from iot_suitcase.devices.formats.base import network_prefix
from iot_suitcase.devices.reading import Reading, check_device_id, device_id_problem
from iot_suitcase.devices.settings import DecodeSettings
from iot_suitcase.devices.timestamps import check_window

AUTO: Final = "auto"
_PLAIN_FORMAT: Final = "native"  # the format of nearly every message: decode_plain reads it on its own path
_TOPICS_KEPT: Final = 10_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True, init=False)
class Outcome:
    """A decoded message: the format that read it, the device it is from, its canonical readings.

    Not changed once made. Hot-path classes write their own ``__init__``: compiled, a dataclass keeps the
    generated one, interpreted (a frozen one sets each field through ``object.__setattr__``), over ten
    times the cost of a compiled one (``bench/README.md``).
    """

    format: str
    device_id: str  # the sender: the device whose topic, key or envelope the message came with
    readings: list[Reading]
    skipped: int  # values the format read past on purpose, counted in the service's figures
    relayed: tuple[str, ...]  # devices other than the sender whose readings it carries (a gateway's pack)

    def __init__(
        self, format: str, device_id: str, readings: list[Reading], skipped: int = 0, relayed: tuple[str, ...] = ()
    ) -> None:
        self.format = format
        self.device_id = device_id
        self.readings = readings
        self.skipped = skipped
        self.relayed = relayed

    def by_device(self) -> list[Outcome]:
        """The sender's part (its own readings, maybe none) and one part per relayed device."""
        if not self.relayed:
            return [self]
        parts = [replace(self, readings=[r for r in self.readings if r.device_id == self.device_id], relayed=())]
        for device_id in self.relayed:
            mine = [r for r in self.readings if r.device_id == device_id]
            parts.append(Outcome(self.format, device_id, mine))
        return parts


class Decoder:
    """Turns a message into canonical readings, or raises ``DecodeError`` with a specific code."""

    def __init__(
        self,
        options: DecodeSettings | None = None,
        catalog: Catalog | None = None,
        formats: dict[str, PayloadFormat] | None = None,
    ) -> None:
        self.options = options or DecodeSettings()
        install_javascript_models(self.options.javascript_decoders_file)
        self.catalog = catalog or load_catalog()
        self.formats = formats if formats is not None else FORMATS
        self.context = FormatContext(
            topic_root=self.options.topic_root,
            device_models=load_device_models(self.options.device_models_file),
            network_prefix=network_prefix(self.options.topic_root, self.options.tenant),
        )
        self._future = timedelta(seconds=self.options.future_tolerance_s)
        plain = self.formats.get(_PLAIN_FORMAT)
        self._plain = plain if isinstance(plain, PlainFormat) else None
        self._plain_senders: dict[str, str] = {}  # topic -> its device, "" where the plain format does not read it

    def add_device_models(self, models: dict[str, str]) -> None:
        """Models from the registry (device id or DevEUI -> vendor/model), over those of the models file."""
        file_models = load_device_models(self.options.device_models_file)
        self.context = replace(self.context, device_models={**file_models, **models})
        self._plain_senders.clear()  # which format reads a topic may depend on the context

    def topic_filters(self) -> list[str]:
        """Every MQTT subscription of the ingest service: every topic an account may publish on."""
        return publish_filters(self.context, self.formats)

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
            raise DecodeError(
                RejectCode.UNKNOWN_TOPIC,
                f"no payload format uses the topic {message.topic!r}; devices publish on "
                f"{self.context.topic_root}/<device>/up (native JSON), /senml, /airrohr or /<quantity>",
                device_id=self._topic_device(message.topic),
            )
        for fmt in self.formats.values():
            if fmt.sniff(message.payload):
                return fmt
        raise DecodeError(RejectCode.UNKNOWN_FORMAT, "payload matches no known format; give --format or --topic")

    def _topic_device(self, topic: str) -> str | None:
        """The device a topic under the root belongs to (the broker lets only that device publish there)."""
        levels = topic.split("/")
        if len(levels) > 1 and levels[0] == self.context.topic_root and device_id_problem(levels[1]) is None:
            return levels[1]
        return None

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
            readings, relays = self._canonical(decoded, message.received_at)
            relayed: tuple[str, ...] = ()
            if relays:
                relayed = tuple(dict.fromkeys([r.device_id for r in readings if r.device_id != decoded.device_id]))
            return Outcome(fmt.name, decoded.device_id, readings, decoded.skipped, relayed)
        except DecodeError as error:
            error.device_id = error.device_id or decoded.device_id
            raise

    def decode_plain(self, topic: str, payload: bytes, received_at: datetime) -> Outcome | None:
        """``decode_message`` of an MQTT message in the commonest form (a plain format's numbers in canonical
        units, on the sender's own topic, inside every limit), without the objects the general path builds
        on the way: it runs for nearly every message ingested. None for any other message, and for one the
        general path would refuse: ``decode_message`` then reads it or says why not (``test_plain.py``
        proves the two equal)."""
        fmt = self._plain
        sender = self._plain_senders.get(topic)
        if sender is None:
            sender = self._plain_sender(topic)
        if fmt is None or not sender or payload[:1] != b"{" or len(payload) > self.options.max_payload_bytes:
            return None
        plain = fmt.unwrap_plain(sender, payload)
        if plain is None:
            return None
        stated, values = plain
        try:
            time = received_at if stated is None else check_window(stated, datetime.now(UTC), self._future)
        except DecodeError:
            return None
        quantities = self.catalog.quantities
        readings = []
        for name, value in values.items():
            # Catalog.canonical_value of a finite number in the canonical unit (no conversion), inline
            quantity = quantities.get(name)
            if quantity is None or not quantity.min <= value <= quantity.max:
                return None  # an unknown quantity, a value out of its range: the general path says which
            readings.append(Reading.checked(sender, time, quantity.name, float(value), quantity.unit))
        return Outcome(fmt.name, sender, readings)

    def _plain_sender(self, topic: str) -> str:
        """The device whose uplink topic ``topic`` is when the plain format reads it, else ""; remembered (at
        most ``_TOPICS_KEPT``, forgotten all at once beyond that)."""
        sender = ""
        if self._plain is not None:
            try:
                if self.choose_format(Message(payload=b"", received_at=_EPOCH, topic=topic)) is self._plain:
                    sender = check_device_id(topic.split("/")[1])
            except DecodeError:
                pass
        if len(self._plain_senders) >= _TOPICS_KEPT:
            self._plain_senders.clear()
        self._plain_senders[topic] = sender
        return sender

    def _canonical(self, decoded: Decoded, received_at: datetime) -> tuple[list[Reading], bool]:
        """The readings in canonical units, checked; and whether any names a device of its own (a relay)."""
        sender = check_device_id(decoded.device_id)
        relays = False
        now = datetime.now(UTC)
        message_time = received_at if decoded.time is None else check_window(decoded.time, now, self._future)
        readings = []
        catalog = self.catalog
        for raw in decoded.readings:
            quantity = catalog.quantity(raw.quantity)
            value = catalog.canonical_value(quantity, raw.value, raw.unit)
            time = message_time if raw.time is None else check_window(raw.time, now, self._future)
            if raw.device is None:
                device_id = sender
            else:
                device_id = check_device_id(raw.device)
                relays = True
            # Every field was checked above: no second validation.
            readings.append(Reading.checked(device_id, time, quantity.name, float(value), quantity.unit))
        return readings, relays


def load_device_models(path: Path | None) -> dict[str, str]:
    """Device id or DevEUI -> vendor/model, from a small TOML file (until the device registry takes over)."""
    if path is None or str(path) in ("", "."):
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {str(device).lower(): str(model) for device, model in data.get("models", {}).items()}
