"""The pipeline's figures at one moment: what the status page, `/metrics`, readiness and the status line show."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Figures:
    received: int = 0
    duplicates: int = 0  # broker redeliveries recognised, acknowledged and not stored again
    possible_duplicates: int = 0  # stored, though they may repeat a stored message
    held: int = 0  # received, not yet logged (and so not acknowledged)
    logged: int = 0
    acked: int = 0
    stored_messages: int = 0
    stored_readings: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    skipped_values: int = 0  # values formats read past on purpose (SenML string records)
    write_errors: int = 0
    batches: int = 0
    influx_ok: bool = True
    log_full: bool = False
    log_error: str | None = None  # the log cannot be written (disk full, I/O error, read-only)
    store_error: str | None = None  # the drainer cannot note its progress (checkpoint, rejects store)
    log_damage: list[str] = field(default_factory=list)  # what opening the log found damaged
    write_latency_ms: float = 0.0
    backlog_records: int = 0
    backlog_bytes: int = 0


class FigureSource(Protocol):
    def figures(self) -> Figures: ...
