"""The Sensative Strips codec: a 2-byte history sequence number, then report items (type byte + data)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from iot_suitcase.devices.codecs.base import CodecError, DeviceModel, load_models
from iot_suitcase.devices.codecs.sensative.reports import HISTORY_BIT, REPORTS
from iot_suitcase.devices.reading import RawReading

MODEL = "sensative/strips"
FPORT = 1  # current reports; fPort 2 carries history reports, dated relative to the time of reception
HISTORY_FPORT = 2
HEADER_BYTES = 2
NO_HISTORY_SEQUENCE = b"\xff\xff"  # what encode writes as the history sequence number

# encode order and type: (report type, quantity, scale, largest encoded integer)
ENCODED: tuple[tuple[int, str, float, int], ...] = (
    (1, "battery", 1, 100),
    (2, "temperature", 10, 0x7FFF),
    (6, "humidity", 2, 0xFF),
    (7, "illuminance", 1, 0xFFFF),
    (9, "door_open", 1, 1),
    (13, "water_leak_level", 1, 100),
    (14, "water_leak", 1, 1),
)
SIGNED = {"temperature"}


class SensativeCodec:
    """Sensative Strips (Comfort, Guard, Drip, ... are profiles of one device). A quantity reported twice
    in one uplink (a temperature item and a humidity+temperature item) keeps its last value."""

    vendor = "sensative"

    def __init__(self) -> None:
        self.models: Mapping[str, DeviceModel] = load_models("iot_suitcase.devices.codecs.sensative")

    def _check(self, model: str, fport: int) -> None:
        if model not in self.models:
            raise CodecError(f"sensative: unknown model {model!r}; known: {', '.join(sorted(self.models))}")
        if fport == HISTORY_FPORT:
            raise CodecError(f"{model}: fPort 2 history uplinks are dated relative to reception; not supported")
        if fport != FPORT:
            raise CodecError(f"{model}: report uplinks arrive on fPort {FPORT}, got fPort {fport}")

    def decode(self, model: str, fport: int, payload: bytes) -> list[RawReading]:
        self._check(model, fport)
        if len(payload) < HEADER_BYTES:
            raise CodecError(
                f"{model}: an uplink starts with a 2-byte history sequence number, got {len(payload)} bytes"
            )
        latest: dict[str, RawReading] = {}
        offset = HEADER_BYTES
        while offset < len(payload):
            kind = payload[offset] & ~HISTORY_BIT
            report = REPORTS.get(kind)
            if report is None:
                raise CodecError(f"{model}: unknown report type {kind} at offset {offset}")
            start, end = offset + 1, offset + 1 + report.size
            if end > len(payload):
                raise CodecError(
                    f"{model}: report type {kind} ({report.name}) needs {report.size} bytes at offset {start}, "
                    f"only {len(payload) - start} left"
                )
            for reading in report.read(payload[start:end]):
                latest[reading.quantity] = reading
            offset = end
        return list(latest.values())

    def encode(self, model: str, fport: int, values: Mapping[str, float]) -> bytes:
        """One report item per given quantity, in decode's units (%, degC, lux, 0/1)."""
        self._check(model, fport)
        known = [quantity for _, quantity, _, _ in ENCODED]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise CodecError(f"{model}: cannot encode {', '.join(unknown)}; it sends {', '.join(known)}")
        body = bytearray(NO_HISTORY_SEQUENCE)
        for kind, quantity, scale, largest in ENCODED:
            if quantity not in values:
                continue
            value = values[quantity]
            if not math.isfinite(value):
                raise CodecError(f"{model}: {quantity} {value} is not a finite number")
            number = round(value * scale)
            smallest = -largest - 1 if quantity in SIGNED else 0
            if not smallest <= number <= largest:
                raise CodecError(
                    f"{model}: {quantity} {value:g} is outside what report type {kind} holds "
                    f"({smallest / scale:g} to {largest / scale:g})"
                )
            size = REPORTS[kind].size
            body += bytes([kind]) + number.to_bytes(size, "big", signed=quantity in SIGNED)
        return bytes(body)
