"""The status page of several workers (`status.merged`): a device's newest message and values win, its counts
add up, a reject shows only if nothing came after it, strangers and figures combine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from iot_suitcase.ingest.operations.status import BoardView, merged

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def at(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat()


def row(
    device: str, seen_ago: float | None, messages: int, latest: dict[str, tuple[float, float]], **extra: Any
) -> dict[str, Any]:
    return {
        "id": device,
        "registered": True,
        "name": device,
        "interval_s": 60,
        "last_seen": at(seen_ago) if seen_ago is not None else None,
        "state": "stale",
        "format": "native",
        "messages": messages,
        "last_reject": None,
        "latest": {q: {"value": v, "unit": "Cel", "time": at(ago)} for q, (v, ago) in latest.items()},
        **extra,
    }


def view(devices: list[dict[str, Any]], strangers: list[dict[str, Any]] | None = None, **figures: object) -> BoardView:
    defaults: dict[str, object] = {"received": 0, "stored_per_second": 0.0, "rejects_kept": 7, "mqtt_connected": True,
                                   "log_full": False, "influx_reachable": True}  # fmt: skip
    return BoardView(devices, strangers or [], 1, 0, defaults | figures)


def test_a_devices_newest_message_and_values_win_and_its_counts_add_up() -> None:
    first = view([row("a", 5, 3, {"temperature": (20.0, 5), "humidity": (40.0, 30)}), row("b", None, 0, {})])
    second = view([row("a", 1, 4, {"temperature": (21.5, 1)}, format="chirpstack"), row("b", None, 0, {})])
    shown = merged([first, second], NOW)
    a = shown.device("a")
    assert a is not None
    assert a["last_seen"] == at(1)
    assert a["format"] == "chirpstack"
    assert a["messages"] == 7
    assert a["state"] == "ok", "worked out again from the newest message"
    assert a["latest"] == {
        "humidity": {"value": 40.0, "unit": "Cel", "time": at(30)},
        "temperature": {"value": 21.5, "unit": "Cel", "time": at(1)},
    }
    b = shown.device("b")
    assert b is not None
    assert b["state"] == "never"
    assert shown.device("c") is None


def test_a_reject_shows_only_if_no_worker_stored_a_message_after_it() -> None:
    reject = {"reason": "out_of_range", "detail": "humidity 120 > 100", "time": at(3)}
    older_message = view([row("a", 10, 1, {}, last_reject=reject)])
    newer_message = view([row("a", 1, 1, {})])
    assert merged([older_message, newer_message], NOW).device("a")["last_reject"] is None  # type: ignore[index]
    alone = merged([older_message, view([row("a", None, 0, {})])], NOW).device("a")
    assert alone is not None
    assert alone["last_reject"] == reject
    assert alone["state"] == "silent", "ten intervals without a message"


def test_strangers_and_figures_combine() -> None:
    knock = {"id": "x", "topic": "suitcase/x/up", "first_seen": at(9), "last_seen": at(8), "messages": 2}
    later = {"id": "x", "topic": "suitcase/x/up2", "first_seen": at(4), "last_seen": at(2), "messages": 3}
    other = {"id": "y", "topic": "suitcase/y/up", "first_seen": at(1), "last_seen": at(1), "messages": 1}
    first = view([], [knock], received=10, stored_per_second=2.5)
    second = view([], [other, later], received=5, stored_per_second=1.0, mqtt_connected=False, log_full=True)
    shown = merged([first, second], NOW)
    assert [s["id"] for s in shown.strangers] == ["y", "x"], "newest first"
    assert shown.strangers[1] == {**later, "first_seen": at(9), "messages": 5}
    assert shown.unknown_messages == 2
    assert shown.figures["received"] == 15
    assert shown.figures["stored_per_second"] == 3.5
    assert shown.figures["rejects_kept"] == 7, "one store, shared: not counted twice"
    assert shown.figures["mqtt_connected"] is False, "connected only if every worker is"
    assert shown.figures["log_full"] is True, "full if any worker's log is"
    assert shown.figures["influx_reachable"] is True
