"""Choosing what is public: the file round-trips, a choice publishes what it says and nothing else, and the
privacy rules apply to the kinds they are for."""

from __future__ import annotations

from pathlib import Path

import pytest

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.opendata.model import Choice, OpenDataRules, Scope, rounded
from iot_suitcase.devices.opendata.store import OpenDataError, load_rules, save_rules
from iot_suitcase.devices.opendata.streams import public_location, published_streams
from iot_suitcase.devices.registry import Registry, make_spec


def registry() -> Registry:
    found = Registry()
    for spec in (
        {"id": "kit-1", "model": "native", "kind": "climate", "site": "harbour", "location": {"lat": 56.1, "lon": 10}},
        {"id": "cnt-1", "model": "native", "kind": "counter", "site": "library",
         "location": {"lat": 56.15678, "lon": 10.20432}},
        {"id": "raw-1", "model": "native", "site": "harbour"},  # no kind: its quantities are not known
        {"id": "secret-1", "model": "native", "kind": "climate", "site": "office"},
    ):  # fmt: skip
        found.add(make_spec(spec))
    return found


def test_nothing_is_published_unless_chosen_and_the_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "opendata.toml"
    assert load_rules(path) == OpenDataRules()
    assert published_streams(registry(), load_catalog(), load_rules(path)) == []
    rules = OpenDataRules(
        attribution='Aarhus "Kommune"', choices=(Choice(Scope.SITE, "harbour"), Choice(Scope.QUANTITY, "people_count"))
    )
    save_rules(path, rules)
    assert load_rules(path) == rules


def test_a_site_publishes_its_devices_a_quantity_every_devices_and_nothing_more() -> None:
    rules = OpenDataRules(choices=(Choice(Scope.SITE, "harbour"), Choice(Scope.QUANTITY, "people_count")))
    streams = published_streams(registry(), load_catalog(), rules)
    devices = {stream.device.id for stream in streams}
    assert devices == {"kit-1", "cnt-1"}
    assert {s.quantity.name for s in streams if s.device.id == "cnt-1"} == {"people_count"}
    people = next(s for s in streams if s.quantity.name == "people_count")
    assert (people.privacy.treatment, people.privacy.bucket_s) == ("sum", 3600), "counts only as hourly sums"
    temperature = next(s for s in streams if s.quantity.name == "temperature")
    assert not temperature.privacy.aggregated


def test_indoor_quantities_are_late_averages_and_their_devices_locations_rounded() -> None:
    rules = OpenDataRules(choices=(Choice(Scope.DEVICE, "cnt-1"),))
    streams = published_streams(registry(), load_catalog(), rules)
    occupancy = next(s for s in streams if s.quantity.name == "occupancy")
    assert (occupancy.privacy.treatment, occupancy.privacy.delay_s) == ("mean", 3600)
    place = public_location(streams[0].device, streams, rules)
    assert place is not None
    assert (place.lat, place.lon) == (56.16, 10.2)
    assert rounded(56.15678, 0.001) == 56.157


@pytest.mark.parametrize(
    "text",
    ['licence = "proprietary"\npublish = []', "publish = [{ planet = 'mars' }]", "count_bucket_s = -1", "publish = ["],
)
def test_a_file_that_cannot_be_used_says_why(tmp_path: Path, text: str) -> None:
    path = tmp_path / "opendata.toml"
    path.write_text(text)
    with pytest.raises(OpenDataError, match=str(path)):
        load_rules(path)
