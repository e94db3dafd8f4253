"""What the status page and its API show: per device last seen and latest values, strangers knocking.

Fed by the pipeline as messages are logged, so staff plugging in a sensor see at once whether its data
arrives, and if not, why (the rejects store has the reasons).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from iot_suitcase.devices.decode import Outcome
from iot_suitcase.devices.errors import RejectCode
from iot_suitcase.devices.registry import Registry
from iot_suitcase.ingest.operations.remembered import DeviceState
from iot_suitcase.ingest.wal.records import Reject

LATE_AFTER = 1.5  # intervals without a message: late
SILENT_AFTER = 3.0  # intervals without a message: silent (as the Grafana alert)
STRANGERS_KEPT = 200  # unregistered devices remembered (newest first): memory stays bounded whatever arrives
_V = TypeVar("_V")


@dataclass(slots=True, init=False)
class Latest:
    value: float
    unit: str
    time: datetime

    def __init__(self, value: float, unit: str, time: datetime) -> None:  # compiled: see Outcome (decode.py)
        self.value = value
        self.unit = unit
        self.time = time


@dataclass(slots=True, init=False)
class Seen:
    last_seen: datetime
    format: str
    messages: int
    latest: dict[str, Latest]

    def __init__(self, last_seen: datetime, format: str, messages: int = 0) -> None:  # as Latest's
        self.last_seen = last_seen
        self.format = format
        self.messages = messages
        self.latest = {}


@dataclass(slots=True)
class Knock:
    """A device that is not in the registry and keeps sending."""

    device_id: str
    topic: str
    first_seen: datetime
    last_seen: datetime
    messages: int = 1


class StatusBoard:
    """In-memory view of devices and strangers, kept up to date by the pipeline's intake.

    Registered devices are kept whole (the registry bounds them); devices that are not registered are kept
    in bounded least-recently-seen tables of ``limit`` ids each and otherwise only counted, so a flood of
    made-up device ids costs a fixed amount of memory.
    """

    def __init__(self, registered: Callable[[str], bool] = lambda device_id: True, limit: int = STRANGERS_KEPT) -> None:
        self._registered = registered
        self._limit = limit
        self.seen: dict[str, Seen] = {}
        self.last_reject: dict[str, Reject] = {}
        self._stranger_seen: OrderedDict[str, Seen] = OrderedDict()
        self._stranger_rejects: OrderedDict[str, Reject] = OrderedDict()
        self.knocking: OrderedDict[str, Knock] = OrderedDict()
        self.changed: set[str] = set()  # registered devices stored since the last ``take_changed``
        self.unknown_messages = 0  # messages of devices not in the registry (unknown_device rejects)
        self.strangers_forgotten = 0  # unregistered ids pushed out of the bounded tables

    def _keep(self, table: OrderedDict[str, _V], key: str, value: _V) -> None:
        table[key] = value
        table.move_to_end(key)
        if len(table) > self._limit:
            table.popitem(last=False)
            self.strangers_forgotten += 1

    def stored(self, outcome: Outcome, received_at: datetime) -> None:
        device_id = outcome.device_id
        registered = self._registered(device_id)
        seen = self.seen.get(device_id) if registered else self._stranger_seen.get(device_id)
        if seen is None:
            seen = Seen(received_at, outcome.format)
            if registered:
                self.seen[device_id] = seen
        if registered:
            self.changed.add(device_id)
        else:
            self._keep(self._stranger_seen, device_id, seen)
        seen.messages += 1
        if received_at < seen.last_seen:  # taken in late (kept while the device was unknown): history, not news
            return
        seen.last_seen, seen.format = received_at, outcome.format
        latest = seen.latest
        for reading in outcome.readings:
            kept = latest.get(reading.quantity)
            if kept is None:
                latest[reading.quantity] = Latest(reading.value, reading.unit, reading.time)
            else:  # updated in place: one object per device and quantity, not one per reading
                kept.value, kept.unit, kept.time = reading.value, reading.unit, reading.time

    def take_changed(self) -> list[DeviceState]:
        """The state of each registered device stored since the last call (to be kept on disk)."""
        changed, self.changed = self.changed, set()
        return [self._state_of(device_id) for device_id in sorted(changed) if device_id in self.seen]

    def _state_of(self, device_id: str) -> DeviceState:
        seen = self.seen[device_id]
        latest = {q: (v.value, v.unit, v.time) for q, v in seen.latest.items()}
        return DeviceState(device_id, seen.last_seen, seen.format, seen.messages, latest)

    def restore(self, states: Iterable[DeviceState], rejects: dict[str, Reject]) -> None:
        """What was known before a restart: registered devices only, and never over newer news."""
        for state in states:
            if not self._registered(state.device) or state.device in self.seen:
                continue
            seen = Seen(state.last_seen, state.format, state.messages)
            seen.latest = {q: Latest(v, unit, at) for q, (v, unit, at) in state.latest.items()}
            self.seen[state.device] = seen
        for device_id, reject in rejects.items():
            if self._registered(device_id):
                self.last_reject.setdefault(device_id, reject)

    def rejected(self, reject: Reject) -> None:
        device_id = reject.device_id
        if device_id is None:
            return
        if reject.code != RejectCode.UNKNOWN_DEVICE:
            if self._registered(device_id):
                self.last_reject[device_id] = reject
            else:
                self._keep(self._stranger_rejects, device_id, reject)
            return
        self.unknown_messages += 1
        knock = self.knocking.get(device_id)
        if knock is None:
            knock = Knock(device_id, reject.topic, reject.received_at, reject.received_at, messages=0)
        knock.last_seen, knock.topic = reject.received_at, reject.topic
        knock.messages += 1
        self._keep(self.knocking, device_id, knock)

    def view(self, registry: Registry, figures: dict[str, object], now: datetime | None = None) -> BoardView:
        """What this board knows, as the status page and ``/api/devices`` show it."""
        return BoardView(
            self.devices(registry, now), self.strangers(), self.unknown_messages, self.strangers_forgotten, figures
        )

    def devices(self, registry: Registry, now: datetime | None = None) -> list[dict[str, object]]:
        """Every registered device (and every device seen), with its state against its expected interval."""
        now = now or datetime.now(UTC)
        ids = sorted(
            {device.id for device in registry.devices}
            | set(self.seen)
            | set(self.last_reject)
            | set(self._stranger_seen)
            | set(self._stranger_rejects)
        )
        return [self._row(device_id, registry, now) for device_id in ids]

    def device(self, registry: Registry, device_id: str, now: datetime | None = None) -> dict[str, object] | None:
        """One device's row as ``devices`` has it; None for a device neither registered nor seen."""
        known = (self.seen, self.last_reject, self._stranger_seen, self._stranger_rejects)
        if device_id not in registry and not any(device_id in table for table in known):
            return None
        return self._row(device_id, registry, now or datetime.now(UTC))

    def _row(self, device_id: str, registry: Registry, now: datetime) -> dict[str, object]:
        device = registry.get(device_id)
        seen = self.seen.get(device_id) or self._stranger_seen.get(device_id)
        interval = device.interval_s if device is not None else None
        return {
            "id": device_id,
            "registered": device is not None,
            "site": device.site if device is not None else None,
            "model": device.model if device is not None else None,
            "kind": device.kind if device is not None else None,
            "name": device.name if device is not None else device_id,
            "interval_s": interval,
            "last_seen": seen.last_seen.isoformat() if seen else None,
            "state": _state(seen.last_seen if seen else None, interval, now),
            "format": seen.format if seen else None,
            "messages": seen.messages if seen else 0,
            "last_reject": _last_reject(self.last_reject.get(device_id) or self._stranger_rejects.get(device_id), seen),
            "latest": {
                q: {"value": v.value, "unit": v.unit, "time": v.time.isoformat()}
                for q, v in sorted(seen.latest.items())
            }
            if seen
            else {},
        }

    def strangers(self) -> list[dict[str, object]]:
        return [
            {
                "id": k.device_id,
                "topic": k.topic,
                "first_seen": k.first_seen.isoformat(),
                "last_seen": k.last_seen.isoformat(),
                "messages": k.messages,
            }
            for k in reversed(self.knocking.values())
        ]


def _last_reject(reject: Reject | None, seen: Seen | None) -> dict[str, str] | None:
    """The device's latest reject, if it came after its latest stored message: why data is not arriving."""
    if reject is None or (seen is not None and seen.last_seen > reject.received_at):
        return None
    return {"reason": reject.code, "detail": reject.reason, "time": reject.received_at.isoformat()}


def _state(last_seen: datetime | None, interval_s: int | None, now: datetime) -> str:
    if last_seen is None:
        return "never"
    if interval_s is None:
        return "ok"
    quiet = now - last_seen
    if quiet > timedelta(seconds=SILENT_AFTER * interval_s):
        return "silent"
    if quiet > timedelta(seconds=LATE_AFTER * interval_s):
        return "late"
    return "ok"


@dataclass(frozen=True, slots=True)
class BoardView:
    """What the status page shows: every device's row, the strangers knocking, the pipeline's figures; of one
    worker's board, or of every worker's together (``merged``)."""

    devices: list[dict[str, object]]
    strangers: list[dict[str, object]]
    unknown_messages: int
    strangers_forgotten: int
    figures: dict[str, object]

    def device(self, device_id: str) -> dict[str, object] | None:
        return next((row for row in self.devices if row["id"] == device_id), None)

    def as_json(self) -> dict[str, object]:
        return {
            "devices": self.devices,
            "unknown_devices": self.strangers,
            "unknown_device_messages": self.unknown_messages,
            "unknown_devices_not_listed": self.strangers_forgotten,
            "pipeline": self.figures,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BoardView:
        return cls(
            list(data["devices"]),
            list(data["unknown_devices"]),
            int(data["unknown_device_messages"]),
            int(data["unknown_devices_not_listed"]),
            dict(data["pipeline"]),
        )


# Figures of the workers of one service together: counts add up, a condition holds only if it holds for all.
_SHARED_FIGURES = {"rejects_kept"}  # from the rejects store the workers share: the same for each
_ANY_FIGURES = {"log_full"}


def merged(views: list[BoardView], now: datetime | None = None) -> BoardView:
    """The views of the workers of one service as one: a device's latest message and values are the newest any
    worker saw, its message count their sum; its latest reject shows only if no message came after it."""
    now = now or datetime.now(UTC)
    rows: dict[str, list[dict[str, Any]]] = {}
    for view in views:
        for row in view.devices:
            rows.setdefault(str(row["id"]), []).append(row)
    strangers: dict[str, list[dict[str, Any]]] = {}
    for view in views:
        for knock in view.strangers:
            strangers.setdefault(str(knock["id"]), []).append(knock)
    return BoardView(
        [_merged_row(rows[device_id], now) for device_id in sorted(rows)],
        sorted((_merged_knock(k) for k in strangers.values()), key=lambda k: _at(k["last_seen"]), reverse=True),
        sum(view.unknown_messages for view in views),
        sum(view.strangers_forgotten for view in views),
        _merged_figures([view.figures for view in views]),
    )


def _merged_row(rows: list[dict[str, Any]], now: datetime) -> dict[str, object]:
    seen = [row for row in rows if row["last_seen"]]
    newest = max(seen, key=lambda row: _at(row["last_seen"])) if seen else rows[0]
    row = dict(newest)
    row["messages"] = sum(int(r["messages"]) for r in rows)
    latest: dict[str, dict[str, Any]] = {}
    for r in rows:
        for quantity, value in r["latest"].items():
            if quantity not in latest or _at(value["time"]) > _at(latest[quantity]["time"]):
                latest[quantity] = value
    row["latest"] = dict(sorted(latest.items()))
    last_seen = _at(row["last_seen"]) if row["last_seen"] else None
    row["state"] = _state(last_seen, row["interval_s"], now)
    rejects = [r["last_reject"] for r in rows if r["last_reject"]]
    reject = max(rejects, key=lambda found: _at(found["time"])) if rejects else None
    if reject is not None and last_seen is not None and last_seen > _at(reject["time"]):
        reject = None
    row["last_reject"] = reject
    return row


def _merged_knock(knocks: list[dict[str, Any]]) -> dict[str, object]:
    newest = max(knocks, key=lambda k: _at(k["last_seen"]))
    return {
        **newest,
        "first_seen": min((k["first_seen"] for k in knocks), key=_at),
        "messages": sum(int(k["messages"]) for k in knocks),
    }


def _merged_figures(all_figures: list[dict[str, object]]) -> dict[str, object]:
    merged_figures: dict[str, object] = {}
    for key, first in all_figures[0].items():
        values = [figures.get(key, first) for figures in all_figures]
        if key in _SHARED_FIGURES:
            merged_figures[key] = first
        elif isinstance(first, bool):
            merged_figures[key] = any(values) if key in _ANY_FIGURES else all(values)
        elif isinstance(first, int | float):
            total = sum(v for v in values if isinstance(v, int | float))
            merged_figures[key] = round(total, 1) if isinstance(total, float) else total
        else:
            merged_figures[key] = first
    return merged_figures


def _at(text: object) -> datetime:
    return datetime.fromisoformat(str(text))
