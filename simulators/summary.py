"""What a run sent and what the platform must make of it: the figures a test or a benchmark checks against.

The summary is a fold over the messages actually handed to the transport, so an interrupted run still
reports exactly what went out. Per fault kind: how many were injected (events), how many messages they
concern, and the reject code (or none) each must produce.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iot_suitcase.simulators.model import OUTCOMES, REJECT_CODES, FaultKind, Outgoing, SimDevice

HTTP_UNKNOWN_DEVICE = "refused with HTTP 401 (not in the registry: answered as a wrong key), not kept as a reject"


@dataclass(slots=True)
class FaultTally:
    events: int = 0
    messages: int = 0
    reports_left_out: int = 0  # silences


@dataclass(slots=True)
class Summary:
    transport: str
    seed: int | None
    devices: Sequence[SimDevice]
    not_applicable: dict[str, list[str]] = field(default_factory=dict)
    sent: int = 0
    acknowledged: int = 0
    refused: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0  # MQTT: connections re-established during the run (paho re-sent what was unacknowledged)
    valid_readings: int = 0
    by_quantity: Counter[str] = field(default_factory=Counter)
    faults: dict[FaultKind, FaultTally] = field(default_factory=lambda: {kind: FaultTally() for kind in FaultKind})
    expected_rejects: Counter[str] = field(default_factory=Counter)
    expected_http_refusals: int = 0
    first_ms: int | None = None
    last_ms: int | None = None
    wall_s: float = 0.0
    interrupted: bool = False
    http: dict[str, Any] | None = None

    def record(self, message: Outgoing) -> None:
        """Count one message as handed to the transport (a silence's marker counts as its event only)."""
        if message.fault is not None:
            tally = self.faults[message.fault]
            tally.events += message.event
            tally.reports_left_out += message.skipped
            tally.messages += message.sendable
        if not message.sendable:
            return
        self.sent += 1
        self.first_ms = message.at_ms if self.first_ms is None else min(self.first_ms, message.at_ms)
        self.last_ms = message.at_ms if self.last_ms is None else max(self.last_ms, message.at_ms)
        if message.reject is not None:
            if self.transport == "http" and message.fault is FaultKind.UNKNOWN_DEVICE:
                self.expected_http_refusals += 1
            else:
                self.expected_rejects[message.reject] += 1
        elif not message.repeat:
            self.valid_readings += len(message.readings)
            self.by_quantity.update(reading.quantity for reading in message.readings)

    @property
    def as_declared(self) -> bool:
        """Every message was acknowledged, or refused only where the summary said it would be."""
        if self.transport == "http":
            unexpected = (self.http or {}).get("unexpected_count", 0)
            return self.acknowledged + self.expected_http_refusals == self.sent and not unexpected
        return self.acknowledged == self.sent and self.refused == 0

    def as_json(self) -> dict[str, Any]:
        faults = {}
        for kind, tally in self.faults.items():
            outcome = OUTCOMES[kind]
            code = REJECT_CODES[kind]
            if self.transport == "http" and kind is FaultKind.UNKNOWN_DEVICE:
                outcome, code = HTTP_UNKNOWN_DEVICE, None
            entry: dict[str, Any] = {
                "injected": tally.events,
                "messages": tally.messages,
                "reject_code": code,
                "expected": outcome,
            }
            if kind is FaultKind.SILENCE:
                entry["reports_left_out"] = tally.reports_left_out
            faults[str(kind)] = entry
        found: dict[str, Any] = {
            "seed": self.seed,
            "transport": self.transport,
            "devices": len(self.devices),
            "devices_by_format": dict(Counter(d.format for d in self.devices)),
            "devices_by_model": dict(Counter(d.model for d in self.devices)),
            "simulated_from": _iso(self.first_ms),
            "simulated_to": _iso(self.last_ms),
            "wall_seconds": round(self.wall_s, 3),
            "interrupted": self.interrupted,
            "as_declared": self.as_declared,
            "messages_sent": self.sent,
            "acknowledged": self.acknowledged,
            "refused": self.refused,
            "refusals": self.refusals,
            "reconnects": self.reconnects,
            "valid_readings": self.valid_readings,
            "readings_by_quantity": dict(sorted(self.by_quantity.items())),
            "faults": faults,
            "expected_rejects": dict(sorted(self.expected_rejects.items())),
            "faults_not_applicable": self.not_applicable,
        }
        if self.transport == "http":
            found["expected_http_refusals"] = self.expected_http_refusals
            found["http"] = self.http or {}
        return found

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")

    def text(self) -> str:
        lines = [
            f"devices          {len(self.devices)} ({_counts(Counter(d.format for d in self.devices))})",
            f"simulated time   {_iso(self.first_ms) or '-'} .. {_iso(self.last_ms) or '-'}"
            f"  ({self.wall_s:.1f} s wall clock{', interrupted' if self.interrupted else ''})",
            f"messages sent    {self.sent}",
            f"acknowledged     {self.acknowledged}"
            + (f"  (refused {self.refused}: {self.refusals})" if self.refused else ""),
            f"valid readings   {self.valid_readings}",
        ]
        injected = [(kind, tally) for kind, tally in self.faults.items() if tally.events]
        if injected:
            lines.append("faults           injected  messages  expected outcome")
            for kind, tally in injected:
                outcome = OUTCOMES[kind]
                if self.transport == "http" and kind is FaultKind.UNKNOWN_DEVICE:
                    outcome = HTTP_UNKNOWN_DEVICE
                if kind is FaultKind.SILENCE:
                    outcome += f" ({tally.reports_left_out} reports left out)"
                lines.append(f"  {kind!s:<16} {tally.events:>7}  {tally.messages:>8}  {outcome}")
            lines.append(f"expected rejects {_counts(self.expected_rejects) or 'none'}")
        for name, formats in self.not_applicable.items():
            lines.append(f"note: {name} cannot be carried by {', '.join(formats)}: those devices send none")
        if self.http is not None:
            lines.append(f"http             {json.dumps(self.http)}")
        return "\n".join(lines)


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000.0, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _counts(counts: Counter[str]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
