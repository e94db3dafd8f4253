"""The Milesight codec: walks an uplink's channel records, and builds uplinks for simulators."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from iot_suitcase.devices.codecs.base import CodecError, CodecReadings, DeviceModel, load_models
from iot_suitcase.devices.codecs.milesight_iot import layouts
from iot_suitcase.devices.codecs.milesight_iot.slots import Slot

VENDOR = "milesight-iot"
_HEADER = 2  # channel id, channel type
_APPLICATION_PORTS = range(1, 224)  # Milesight sends on 85 by default; the port is configurable


@dataclass(frozen=True, slots=True)
class Record:
    """One channel record of an uplink: where it starts, its channel, its parsed values."""

    offset: int
    slot: Slot
    values: dict[str, float]


class MilesightCodec:
    """Milesight IoT's channel-id / channel-type payloads (AM300, EM300, EM310, EM400, WS302 models)."""

    vendor = VENDOR

    def __init__(self) -> None:
        self.models: Mapping[str, DeviceModel] = load_models("iot_suitcase.devices.codecs.milesight_iot")
        missing = sorted(set(self.models) - set(layouts.LAYOUTS))
        if missing:
            raise ValueError(f"{VENDOR}: models.toml names models without a layout: {missing}")
        self._tables = {model: layouts.table(model) for model in self.models}
        self._writers = {model: layouts.writers(model) for model in self.models}

    def parse(self, model: str, fport: int, payload: bytes) -> list[Record]:
        """Every known channel record of ``payload``; CodecError names the offending channel and offset."""
        return self._walk(model, fport, payload)[0]

    def decode(self, model: str, fport: int, payload: bytes) -> CodecReadings:
        records, skipped = self._walk(model, fport, payload)
        readings = (reading for record in records for reading in record.slot.readings(record.values))
        return CodecReadings(readings, skipped=skipped)

    def _walk(self, model: str, fport: int, payload: bytes) -> tuple[list[Record], int]:
        """The known channel records, and how many unknown ones were read past by their type's size."""
        table = self._table(model, fport)
        if not payload:
            raise CodecError(f"{model}: payload is empty")
        records = []
        skipped = 0
        offset = 0
        while offset < len(payload):
            if len(payload) - offset < _HEADER:
                raise CodecError(f"{model}: 1 byte left at offset {offset}, a channel needs an id and a type")
            key = (payload[offset], payload[offset + 1])
            slot = table.get(key)
            size = slot.channel.size if slot is not None else layouts.skippable_size(key)
            if size is None:
                raise CodecError(
                    f"{model}: unknown channel 0x{key[0]:02x} type 0x{key[1]:02x} at offset {offset}, "
                    "of a type whose size is not known, so nothing after it can be read"
                )
            start, end = offset + _HEADER, offset + _HEADER + size
            if end > len(payload):
                what = slot.channel.describe() if slot is not None else f"channel 0x{key[0]:02x} type 0x{key[1]:02x}"
                raise CodecError(
                    f"{model}: {what} needs {size} bytes at offset {start}, only {len(payload) - start} left"
                )
            if slot is None:
                skipped += 1
            else:
                records.append(Record(offset, slot, slot.channel.unpack(payload[start:end])))
            offset = end
        return records, skipped

    def encode(self, model: str, fport: int, values: Mapping[str, float]) -> bytes:
        """An uplink carrying ``values`` (quantity -> value in the units ``decode`` returns)."""
        self._table(model, fport)
        writers = self._writers[model]
        known = {quantity for slot in writers for quantity in slot.quantities}
        unknown = sorted(set(values) - known)
        if unknown:
            raise CodecError(f"{model}: cannot encode {', '.join(unknown)}; it encodes {', '.join(sorted(known))}")
        payload = b"".join(
            slot.record(values) for slot in writers if any(quantity in values for quantity in slot.quantities)
        )
        if not payload:
            raise CodecError(f"{model}: nothing to encode")
        return payload

    def _table(self, model: str, fport: int) -> dict[tuple[int, int], Slot]:
        table = self._tables.get(model)
        if table is None:
            raise CodecError(f"{VENDOR}: unknown model {model!r}; known: {', '.join(sorted(self._tables))}")
        if fport not in _APPLICATION_PORTS:
            raise CodecError(f"{model}: fport {fport} is not an application port (1-223)")
        return table
