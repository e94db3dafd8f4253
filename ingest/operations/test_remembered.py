"""Device states round-trip through their file; an unreadable file is set aside, never a reason not to start."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iot_suitcase.ingest.operations.remembered import DeviceState, RememberedDevices

AT = datetime(2026, 12, 6, 8, 0, 0, 123456, tzinfo=UTC)
STATE = DeviceState("kit-1", AT, "native", 3, {"co2": (734.0, "ppm", AT), "temperature": (21.5, "degC", AT)})


def test_states_round_trip_and_update_in_place(tmp_path: Path) -> None:
    kept = RememberedDevices(tmp_path / "devices.sqlite3")
    kept.save([STATE])
    kept.save([DeviceState("kit-1", AT, "senml", 4, {"co2": (700.0, "ppm", AT)})])
    kept.close()
    [state] = RememberedDevices(tmp_path / "devices.sqlite3").load()
    assert (state.format, state.messages, state.latest) == ("senml", 4, {"co2": (700.0, "ppm", AT)})


def test_an_unreadable_file_is_set_aside_and_a_fresh_one_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "devices.sqlite3"
    path.write_bytes(b"not a database" * 100)
    with caplog.at_level(logging.ERROR):
        kept = RememberedDevices(path)
    assert "device states unreadable, set aside" in caplog.text
    assert [p.name.startswith("devices.sqlite3.unreadable-") for p in tmp_path.iterdir() if p != path].count(True) == 1
    assert kept.load() == []
    kept.save([STATE])
    assert kept.load() == [STATE]
