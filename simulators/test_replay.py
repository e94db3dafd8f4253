"""Replay: mappings from TOML and flags, reading CSV rows (times, zones, missing cells), the messages they make."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iot_suitcase.devices.decode import Decoder
from iot_suitcase.devices.formats import Message
from iot_suitcase.devices.settings import DecodeSettings
from iot_suitcase.simulators.model import Topics
from iot_suitcase.simulators.replay import (
    ReplayError,
    ReplayMapping,
    load_mapping,
    parse_column_flag,
    read_rows,
    replay_devices,
    replay_messages,
    with_flags,
)

DATA = Path(__file__).parent / "testdata"
MAPPINGS = Path(__file__).parent / "mappings"
TOPICS = Topics(root="replaytest")


def mapping_from(base: ReplayMapping | None = None, **given: Any) -> ReplayMapping:
    """What the command builds from its flags (those not given are None)."""
    names = ("time_column", "time_format", "timezone", "device", "device_column", "device_prefix", "site")
    return with_flags(base, columns=given.pop("columns", []), **{name: given.pop(name, None) for name in names})


def test_the_weather_sample_replays_every_cell_at_its_own_time() -> None:
    mapping = load_mapping(MAPPINGS / "citypulse-weather.toml")
    rows, read = read_rows(DATA / "aarhus-weather-sample.csv", mapping)
    with (DATA / "aarhus-weather-sample.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert 30 <= len(table) == len(rows) == read.rows
    assert read.missing_cells == sum(row["wspdm"] == "-9999" for row in table) == 1
    first = table[0]
    assert rows[0].time_us == datetime.fromisoformat(first["TIMESTAMP"]).replace(tzinfo=UTC).timestamp() * 1e6
    assert rows[0].values == {
        "temperature": float(first["tempm"]),
        "humidity": float(first["hum"]),
        "wind_speed": pytest.approx(float(first["wspdm"]) / 3.6, abs=1e-3),
    }
    devices = replay_devices(rows, mapping, "native")
    assert list(devices) == ["citypulse-weather-aarhus"]
    decoder = Decoder(DecodeSettings(topic_root=TOPICS.root))
    messages = list(replay_messages(rows, devices, TOPICS))
    for message, row in zip(messages, rows, strict=True):
        outcome = decoder.decode_message(Message(message.payload, datetime.now(UTC), message.topic))
        assert {r.time.timestamp() * 1e6 for r in outcome.readings} == {row.time_us}
        assert sorted((r.quantity, r.value) for r in outcome.readings) == sorted(
            (e.quantity, e.value) for e in message.readings
        )
    assert sum(len(m.readings) for m in messages) == 3 * len(rows) - 1


def test_parking_fill_levels_come_from_two_columns_in_local_time() -> None:
    mapping = load_mapping(MAPPINGS / "citypulse-parking.toml")
    rows, _ = read_rows(DATA / "aarhus-parking-sample.csv", mapping)
    with (DATA / "aarhus-parking-sample.csv").open(newline="") as handle:
        first = next(csv.DictReader(handle))
    row = next(r for r in rows if r.device == f"parking-{first['garagecode']}")
    assert row.values["fill_level"] == pytest.approx(int(first["vehiclecount"]) / int(first["totalspaces"]) * 100)
    local = datetime.fromisoformat(first["updatetime"])  # May: Copenhagen is UTC+2
    assert row.time_us == (local.replace(tzinfo=UTC).timestamp() - 2 * 3600) * 1e6
    assert {r.device for r in rows} == {"parking-NORREPORT", "parking-BRUUNS", "parking-SKOLEBAKKEN"}
    assert [r.time_us for r in rows] == sorted(r.time_us for r in rows)


def test_flags_alone_make_a_mapping_and_override_a_file(tmp_path: Path) -> None:
    csv_file = tmp_path / "obs.csv"
    csv_file.write_text(
        "when,t,rh,station\n1393633200,21.5,40,Lab 1\n2014-03-01T01:00:00+01:00,22.0,,Lab 1\nsoon,1,1,x\n"
    )
    mapping = mapping_from(columns=["t=temperature", "rh=humidity:%"], time_column="when", device_column="station")
    rows, read = read_rows(csv_file, mapping)
    assert [(r.device, r.time_us, r.values) for r in rows] == [  # sorted by time; 01:00+01:00 is 00:00 UTC
        ("Lab-1", 1393632000 * 10**6, {"temperature": 22.0}),
        ("Lab-1", 1393633200 * 10**6, {"temperature": 21.5, "humidity": 40.0}),
    ]
    assert read.skipped_rows == {"unreadable time": 1}
    assert read.missing_cells == 1
    weather = load_mapping(MAPPINGS / "citypulse-weather.toml")
    overridden = mapping_from(weather, columns=["hum=water_leak_level"], device="x1")
    assert overridden.device == "x1"
    assert overridden.device_column is None
    assert {(c.column, c.quantity) for c in overridden.columns} >= {
        ("hum", "water_leak_level"),
        ("tempm", "temperature"),
    }


def test_values_the_catalog_refuses_are_sent_and_counted_as_rejects(tmp_path: Path) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("time,hum\n2014-03-01T00:00:00Z,120\n2014-03-01T00:10:00Z,50\n2014-03-01T00:10:00Z,51\n")
    mapping = mapping_from(columns=["hum=humidity"], time_column="time", device="h1")
    rows, _ = read_rows(csv_file, mapping)
    messages = list(replay_messages(rows, replay_devices(rows, mapping, "senml"), TOPICS))
    assert [m.reject for m in messages] == ["out_of_range", None, None]
    assert [m.repeat for m in messages] == [False, False, True]  # the same point again: no new reading
    assert messages[0].topic == "replaytest/h1/senml"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": ["hum=mood"]}, "not a catalog quantity"),
        ({"columns": ["hum=humidity:furlongs"]}, "not accepted for humidity"),
        ({"columns": ["hum=humidity"], "device": None, "device_column": None}, "--device ID or --device-column"),
        ({"columns": ["hum=humidity"], "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"columns": ["hum=humidity"], "time_column": "nope"}, "no column nope"),
    ],
)
def test_mistakes_are_explained(change: dict[str, Any], message: str) -> None:
    given: dict[str, Any] = {"time_column": "TIMESTAMP", "device": "w1", **change}
    mapping = mapping_from(**given)
    with pytest.raises(ReplayError, match=message):
        read_rows(DATA / "aarhus-weather-sample.csv", mapping)


def test_column_flags_are_parsed() -> None:
    assert parse_column_flag("wspdm=wind_speed:km/h").unit == "km/h"
    with pytest.raises(ReplayError, match="COLUMN=QUANTITY"):
        parse_column_flag("wspdm")
    with pytest.raises(ReplayError, match="timestamps"):
        replay_devices([], load_mapping(MAPPINGS / "citypulse-weather.toml"), "single_value")
