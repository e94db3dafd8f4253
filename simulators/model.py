"""The simulator's nouns: a simulated device, a fault kind, and an outgoing message with what it must cause."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from iot_suitcase.simulators.signals import Context

NATIVE = "native"


class FaultKind(StrEnum):
    MALFORMED_JSON = "malformed_json"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_QUANTITY = "unknown_quantity"
    UNKNOWN_DEVICE = "unknown_device"
    DUPLICATE = "duplicate"
    LATE = "late"
    FUTURE = "future"
    SILENCE = "silence"
    BURST = "burst"


# The reject code each fault must produce in the ingest service (None: stored, or nothing to store).
REJECT_CODES: dict[FaultKind, str | None] = {
    FaultKind.MALFORMED_JSON: "malformed_json",
    FaultKind.WRONG_TYPE: "wrong_type",
    FaultKind.OUT_OF_RANGE: "out_of_range",
    FaultKind.UNKNOWN_QUANTITY: "unknown_quantity",
    FaultKind.UNKNOWN_DEVICE: "unknown_device",
    FaultKind.DUPLICATE: None,
    FaultKind.LATE: None,
    FaultKind.FUTURE: "time_in_future",
    FaultKind.SILENCE: None,
    FaultKind.BURST: None,
}

OUTCOMES: dict[FaultKind, str] = {
    FaultKind.MALFORMED_JSON: "rejected: malformed_json",
    FaultKind.WRONG_TYPE: "rejected: wrong_type",
    FaultKind.OUT_OF_RANGE: "rejected: out_of_range",
    FaultKind.UNKNOWN_QUANTITY: "rejected: unknown_quantity",
    FaultKind.UNKNOWN_DEVICE: "rejected: unknown_device (with SUITCASE_UNKNOWN_DEVICES=reject; over HTTP: 401)",
    FaultKind.DUPLICATE: "no reject, no extra reading: the copy overwrites the same points",
    FaultKind.LATE: "stored with its old timestamp",
    FaultKind.FUTURE: "rejected: time_in_future (more than SUITCASE_FUTURE_TOLERANCE_S ahead)",
    FaultKind.SILENCE: "nothing sent for a while: no reject",
    FaultKind.BURST: "extra messages in quick succession, all stored",
}


@dataclass(frozen=True, slots=True)
class Topics:
    """Where each format publishes: the native root and the network servers' application ids."""

    root: str = "suitcase"
    chirpstack_application: str = "5d4a3c2b-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
    tts_application: str = "suitcase-sim"
    tts_tenant: str = "ttn"


@dataclass(frozen=True, slots=True)
class SimDevice:
    """One simulated device: what it is, where it is, how it speaks, how often."""

    id: str
    index: int
    model: str  # "native" or vendor/model
    kind: str
    site: str
    format: str
    quantities: tuple[str, ...]
    interval_s: float
    lat: float
    lon: float
    context: Context
    name: str
    dev_eui: str | None = None
    ghost: bool = False  # a twin that is never registered (unknown_device faults)

    @property
    def chip_id(self) -> str:
        """The ESP8266 chip id of a sensor.community station (its id is ``esp8266-<chip id>``)."""
        return self.id.removeprefix("esp8266-")


@dataclass(frozen=True, slots=True)
class Expected:
    """A reading the platform must store: canonical value, and the device time (None: the receive time)."""

    quantity: str
    value: float
    time_ns: int | None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send, with the outcome it must have."""

    at_ms: int  # simulated send time, epoch milliseconds
    device: SimDevice  # who sends it (a ghost for unknown_device faults)
    topic: str
    payload: bytes
    fault: FaultKind | None = None
    readings: tuple[Expected, ...] = ()  # stored by the platform (empty for rejects and repeated copies)
    reject: str | None = None  # the reject code it must produce
    repeat: bool = False  # a duplicate's second copy
    order: int = 0  # ties between messages of one device at one moment
    event: bool = False  # the first message of a fault event (a burst's first extra message, ...)
    skipped: int = 0  # a silence: the reports the device leaves out (the message itself is not sent)

    @property
    def sendable(self) -> bool:
        """False for the marker of a silence, which only records that nothing was sent."""
        return bool(self.topic)

    @property
    def format(self) -> str:
        return self.device.format
