"""The message stream of a fleet: each device's schedule, its values, its faults, merged in time order.

Each device draws its timing and its faults from its own random streams (keyed by seed and device), and
its values from the stateless signals, so the stream is a pure function of the arguments: the same seed
gives the same messages, byte for byte, whatever the transport or the speed. The stream is lazy, so a
fleet running for days needs no memory for messages not yet sent.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.simulators.fleet import FleetSpec, ghost_of
from iot_suitcase.simulators.formats import FORMATS, Draft, Format, Report
from iot_suitcase.simulators.model import REJECT_CODES, Expected, FaultKind, Outgoing, SimDevice, Topics
from iot_suitcase.simulators.signals import sample
from iot_suitcase.simulators.signals.noise import mix, text_key

HOUR_MS = 3_600_000
LATE_MS = (1 * HOUR_MS, 6 * HOUR_MS)  # how old a late message's timestamp is
FUTURE_MS = (2 * HOUR_MS, 12 * HOUR_MS)  # how far ahead a future one is: far beyond the default 600 s tolerance
SILENCE_REPORTS = (2, 6)  # reports a silent device skips
BURST_REPORTS = (3, 8)  # extra reports in a burst
MIN_INTERVAL_S = 0.05
MAX_JITTER = 0.5
_TIMING = text_key("timing")
_FAULTS = text_key("faults")


class PlanError(ValueError):
    """Arguments that cannot make a message stream."""


@dataclass(frozen=True, slots=True)
class FaultRates:
    """Per kind, the share of a device's reports that carry the fault; ``spread`` is split over every kind
    the device's format can carry (``--faults 0.05``)."""

    rates: Mapping[FaultKind, float] = field(default_factory=dict)
    spread: float = 0.0

    def __post_init__(self) -> None:
        total = sum(self.rates.values()) + self.spread
        if any(rate < 0 for rate in self.rates.values()) or self.spread < 0 or total > 1.0:
            raise PlanError(f"fault rates must be >= 0 and add up to at most 1 (they add up to {total:g})")

    def for_format(self, fmt: Format) -> list[tuple[FaultKind, float]]:
        applicable = [kind for kind in FaultKind if kind in fmt.faults]
        share = self.spread / len(applicable) if applicable else 0.0
        chosen = [(kind, self.rates.get(kind, 0.0) + share) for kind in applicable]
        return [(kind, rate) for kind, rate in chosen if rate > 0]

    def not_applicable(self, formats: Sequence[str]) -> dict[str, list[str]]:
        """Per fault kind asked for by name, the formats of this fleet that cannot carry it."""
        found = {}
        for kind, rate in self.rates.items():
            missing = [name for name in formats if kind not in FORMATS[name].faults]
            if rate > 0 and missing:
                found[str(kind)] = missing
        return found


@dataclass(frozen=True, slots=True)
class PlanSpec:
    start_ms: int
    end_ms: int | None  # the simulated end (the baseline of future timestamps); None: until interrupted
    reports: int | None = None  # per device; else until end_ms
    jitter: float = 0.1
    skew_s: float | None = None  # None: up to one interval
    faults: FaultRates = field(default_factory=FaultRates)
    topics: Topics = field(default_factory=Topics)

    def __post_init__(self) -> None:
        if not 0.0 <= self.jitter <= MAX_JITTER:
            raise PlanError(f"jitter must be between 0 and {MAX_JITTER} (a share of the interval)")
        if self.reports is not None and self.reports < 1:
            raise PlanError("each device needs at least one message")


def expected_readings(draft: Draft, time_ns: int | None) -> tuple[Expected, ...]:
    """What the platform stores from a draft: each value converted and range-checked by the catalog."""
    catalog = load_catalog()
    return tuple(
        Expected(quantity, catalog.canonical_value(catalog.quantity(quantity), value, unit), time_ns)
        for quantity, value, unit in draft.sent
    )


class Plan:
    """The fleet's messages in time order (``messages()``), each with the outcome it must have."""

    def __init__(self, devices: Sequence[SimDevice], spec: PlanSpec, fleet: FleetSpec) -> None:
        for device in devices:
            if device.interval_s < MIN_INTERVAL_S:
                raise PlanError(f"{device.id}: an interval below {MIN_INTERVAL_S:g} s is not a sensor's")
        self.devices = list(devices)
        self.spec = spec
        self.fleet = fleet
        self._seed_key = mix(fleet.seed, text_key(fleet.id_prefix))

    def messages(self) -> Iterator[Outgoing]:
        streams = [self.device_messages(device) for device in self.devices]
        return heapq.merge(*streams, key=lambda m: (m.at_ms, m.device.index, m.order))

    def estimated_messages(self) -> int | None:
        """Reports times messages per report, for a progress bar (faults make it approximate)."""
        total = 0
        for device in self.devices:
            per_report = len(device.quantities) if device.format == "single_value" else 1
            if self.spec.reports is not None:
                reports = self.spec.reports
            elif self.spec.end_ms is not None:
                reports = max(1, round((self.spec.end_ms - self.spec.start_ms) / (device.interval_s * 1000)))
            else:
                return None
            total += reports * per_report
        return total

    def device_messages(self, device: SimDevice) -> Iterator[Outgoing]:
        """One device's messages in time order."""
        fmt = FORMATS[device.format]
        # simulation, not secrecy: reproducible streams per (seed, device)
        timing = random.Random(mix(self._seed_key, _TIMING, device.index))  # noqa: S311
        chance = random.Random(mix(self._seed_key, _FAULTS, device.index))  # noqa: S311
        kinds = self.spec.faults.for_format(fmt)
        interval_ms = device.interval_s * 1000.0
        skew_ms = interval_ms if self.spec.skew_s is None else self.spec.skew_s * 1000.0
        at = self.spec.start_ms + int(timing.random() * skew_ms)
        previous = at - round(interval_ms)
        state = _DeviceState()
        slot = 0
        silent_until = -1
        while self._more(slot, at):
            kind = _draw(chance, kinds)
            if slot < silent_until:
                pass
            elif kind is FaultKind.SILENCE:
                skipped = chance.randint(*SILENCE_REPORTS)
                silent_until = slot + skipped
                yield Outgoing(at, device, "", b"", FaultKind.SILENCE, event=True, skipped=skipped)
            else:
                yield from self._report(
                    device,
                    fmt,
                    at=at,
                    since_ms=at - previous,
                    kind=kind,
                    state=state,
                    chance=chance,
                    interval_ms=interval_ms,
                )
                previous = at
            slot += 1
            at += max(1, round(interval_ms * (1.0 + self.spec.jitter * (2.0 * timing.random() - 1.0))))

    def _more(self, slot: int, at: int) -> bool:
        if self.spec.reports is not None:
            return slot < self.spec.reports
        return self.spec.end_ms is None or at < self.spec.end_ms

    def _report(
        self,
        device: SimDevice,
        fmt: Format,
        *,
        at: int,
        since_ms: int,
        kind: FaultKind | None,
        state: _DeviceState,
        chance: random.Random,
        interval_ms: float,
    ) -> Iterator[Outgoing]:
        state.counter += 1
        stamp_us = at * 1000
        if kind is FaultKind.LATE:
            state.late += 1
            stamp_us -= chance.randint(*LATE_MS) * 1000 - (state.late % 999 + 1)  # own microseconds: unique
        elif kind is FaultKind.FUTURE:
            baseline = at if self.spec.end_ms is None else max(at, self.spec.end_ms)
            stamp_us = (baseline + chance.randint(*FUTURE_MS)) * 1000
        sender = device
        if kind is FaultKind.UNKNOWN_DEVICE:
            sender = state.ghost or ghost_of(device, self.fleet)
            state.ghost = sender
        values = sample(device.context, device.quantities, at / 1000.0, since_ms / 1000.0)
        report = Report(sender, at, stamp_us, values, state.counter)
        topics = self.spec.topics
        drafts = fmt.over_range(report, topics) if kind is FaultKind.OUT_OF_RANGE else fmt.drafts(report, topics)
        time_ns = stamp_us * 1000 if fmt.timestamped else None
        order = 0
        # a late message is itself the fault; duplicates and bursts are the messages that follow the report
        marked = kind if kind is FaultKind.LATE else None
        for number, draft in enumerate(drafts):
            if kind in _PAYLOAD_FAULTS and (number == 0 or kind is FaultKind.UNKNOWN_DEVICE):
                yield self._faulty(sender, fmt, draft, kind, at=at, order=order, event=number == 0)
            else:
                readings = expected_readings(draft, time_ns)
                payload = draft.payload()
                yield Outgoing(
                    at, sender, draft.topic, payload, marked, readings, order=order, event=marked is not None
                )
            order += 1
        if kind is FaultKind.DUPLICATE:
            delay = round(min(2000.0, interval_ms / 4.0))
            for number, draft in enumerate(drafts):
                copy = Outgoing(at + delay, sender, draft.topic, draft.payload(), kind, repeat=True, order=order)
                yield replace(copy, event=number == 0)
                order += 1
        elif kind is FaultKind.BURST:
            extra = chance.randint(*BURST_REPORTS)
            gap = max(1, round(min(1000.0, interval_ms / (2.0 * (extra + 1)))))
            for number in range(1, extra + 1):
                state.counter += 1
                moment = at + number * gap
                values = sample(device.context, device.quantities, moment / 1000.0, gap / 1000.0)
                burst = Report(device, moment, moment * 1000, values, state.counter)
                for part, draft in enumerate(fmt.drafts(burst, topics)):
                    readings = expected_readings(draft, moment * 1_000_000 if fmt.timestamped else None)
                    first = number == 1 and part == 0
                    yield Outgoing(
                        moment, device, draft.topic, draft.payload(), kind, readings, order=order, event=first
                    )
                    order += 1

    @staticmethod
    def _faulty(
        sender: SimDevice, fmt: Format, draft: Draft, kind: FaultKind, *, at: int, order: int, event: bool
    ) -> Outgoing:
        if kind is FaultKind.WRONG_TYPE:
            draft = fmt.wrong_type(draft)
        elif kind is FaultKind.UNKNOWN_QUANTITY:
            draft = fmt.unknown_quantity(draft)
        payload = draft.payload()
        if kind is FaultKind.MALFORMED_JSON:
            payload = payload[: max(1, len(payload) * 2 // 3)]  # cut off in transit: never valid JSON
        return Outgoing(at, sender, draft.topic, payload, kind, reject=REJECT_CODES[kind], order=order, event=event)


# Faults whose first message is rejected; the others change timing or stamps but are stored.
_PAYLOAD_FAULTS = frozenset(
    {
        FaultKind.MALFORMED_JSON,
        FaultKind.WRONG_TYPE,
        FaultKind.OUT_OF_RANGE,
        FaultKind.UNKNOWN_QUANTITY,
        FaultKind.UNKNOWN_DEVICE,
        FaultKind.FUTURE,
    }
)


@dataclass(slots=True)
class _DeviceState:
    counter: int = 0  # uplinks sent (LoRaWAN frame counter)
    late: int = 0
    ghost: SimDevice | None = None


def _draw(chance: random.Random, kinds: Sequence[tuple[FaultKind, float]]) -> FaultKind | None:
    """The fault of one report, or None; one uniform draw per report whatever the rates."""
    u = chance.random()
    for kind, rate in kinds:
        if u < rate:
            return kind
        u -= rate
    return None
