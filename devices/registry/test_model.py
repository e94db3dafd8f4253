"""Field rules of a device: each refusal names its field and says what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from iot_suitcase.devices.registry.model import (
    MAX_TAGS,
    Device,
    DeviceSpec,
    Problem,
    RegistryError,
    device_problems,
    make_spec,
)

VALID: dict[str, Any] = {"id": "kit-1", "model": "native", "site": "harbour"}


def refusal(**changes: Any) -> list[str]:
    """The problems of VALID with ``changes``, as "field: message" strings."""
    with pytest.raises(RegistryError) as caught:
        make_spec(VALID | changes)
    return [str(problem) for problem in caught.value.problems]


def test_a_minimal_spec_leaves_the_defaults_to_the_registry() -> None:
    spec = make_spec(VALID)
    assert (spec.id, spec.model, spec.site) == ("kit-1", "native", "harbour")
    assert (spec.kind, spec.name, spec.location, spec.dev_eui, spec.interval_s, spec.tags) == (
        None,
        None,
        None,
        None,
        None,
        {},
    )


@pytest.mark.parametrize("field", ["id", "model", "site"])
def test_id_model_and_site_are_required(field: str) -> None:
    data = dict(VALID)
    del data[field]
    with pytest.raises(RegistryError) as caught:
        make_spec(data)
    assert [str(problem) for problem in caught.value.problems] == [f"{field}: required"]


@pytest.mark.parametrize("device_id", ["kit 1", "-kit", "kit/1", "kit+1", "kit#1", "", "k" * 65, "kit\n1"])
def test_ids_follow_the_device_id_rule(device_id: str) -> None:
    (problem,) = refusal(id=device_id)
    assert problem.startswith("id: device id ")
    assert "1-64 characters" in problem


@pytest.mark.parametrize("device_id", ["a", "Kit-07", "0004a30b001c0530", "aarhus.c_air-1", "k" * 64])
def test_valid_ids_are_kept_as_given(device_id: str) -> None:
    assert make_spec(VALID | {"id": device_id}).id == device_id


def test_model_is_native_or_vendor_slash_model_and_case_is_folded() -> None:
    assert make_spec(VALID | {"model": "Elsys/ERS"}).model == "elsys/ers"
    assert make_spec(VALID | {"model": "NATIVE"}).model == "native"
    for bad in ["elsys", "elsys/", "/ers", "elsys/ers/2", "el sys/ers"]:
        (problem,) = refusal(model=bad)
        assert problem.startswith(f"model: {bad!r} is not a model")


def test_an_unknown_model_is_named_with_close_matches_when_the_models_are_given() -> None:
    with pytest.raises(RegistryError) as caught:
        make_spec(VALID | {"model": "acme/thermo2"}, models={"acme/thermo", "acme/door", "other/thing"})
    (problem,) = caught.value.problems
    assert problem.field == "model"
    assert "unknown model 'acme/thermo2'" in problem.message
    assert "close matches: acme/thermo" in problem.message
    assert "other/thing" not in problem.message


def test_kind_must_be_a_catalog_kind() -> None:
    assert make_spec(VALID | {"kind": "air_quality"}).kind == "air_quality"
    (problem,) = refusal(kind="airquality")
    assert problem.startswith("kind: 'airquality' is not a catalog kind; kinds: ")
    assert "air_quality" in problem


@pytest.mark.parametrize("site", ["Harbour", "harbour east", "hårbour", "", "x" * 65, "a/b"])
def test_site_is_a_lower_case_slug(site: str) -> None:
    problems = refusal(site=site)
    assert len(problems) == 1
    assert problems[0].startswith("site: ")


def test_site_is_stripped_of_surrounding_spaces() -> None:
    assert make_spec(VALID | {"site": "  dokk1_b-2 "}).site == "dokk1_b-2"


def test_name_is_text_without_control_characters() -> None:
    assert make_spec(VALID | {"name": " Rådhuspladsen, 2. sal "}).name == "Rådhuspladsen, 2. sal"
    assert refusal(name="two\nlines")[0].startswith("name: name 'two\\nlines' contains a control character")
    assert refusal(name="tab\there")[0].startswith("name: ")
    assert refusal(name="   ") == ["name: name must not be empty"]
    assert refusal(name="x" * 101) == ["name: name is 101 characters long, over the limit of 100"]


def test_location_ranges() -> None:
    spec = make_spec(VALID | {"location": {"lat": -90, "lon": 180}})
    assert spec.location is not None
    assert (spec.location.lat, spec.location.lon) == (-90.0, 180.0)
    assert refusal(location={"lat": 90.5, "lon": 10}) == ["location.lat: 90.5 is outside [-90, 90]"]
    assert refusal(location={"lat": 56, "lon": -180.1}) == ["location.lon: -180.1 is outside [-180, 180]"]
    assert refusal(location={"lat": "north", "lon": 10}) == ["location.lat: 'north' is not a number"]
    assert refusal(location={"lat": float("nan"), "lon": 10}) == ["location.lat: nan is not finite"]
    assert refusal(location={"lat": 56}) == ["location.lon: required"]


def test_tags_keys_are_slugs_values_are_plain_text() -> None:
    assert make_spec(VALID | {"tags": {"owner": " tmf ", "floor": "-1"}}).tags == {"owner": "tmf", "floor": "-1"}
    (problem,) = refusal(tags={"Owner": "tmf"})
    assert problem.startswith("tags: tag key 'Owner' is not valid")
    assert refusal(tags={"note": "a\x07b"})[0].startswith("tags.note: tag value 'a\\x07b' contains a control")
    assert refusal(tags={"note": "a;b"})[0].startswith("tags.note: tag value 'a;b' contains ';'")
    assert refusal(tags={"note": ""}) == ["tags.note: tag value must not be empty"]
    assert refusal(tags={"floor": 2}) == ["tags.floor: 2 is not text (in YAML, quote it)"]


def test_at_most_ten_tags() -> None:
    assert len(make_spec(VALID | {"tags": {f"t{i}": "x" for i in range(MAX_TAGS)}}).tags) == MAX_TAGS
    assert refusal(tags={f"t{i}": "x" for i in range(MAX_TAGS + 1)}) == ["tags: 11 tags, over the limit of 10"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("A81758FFFE0312AB", "a81758fffe0312ab"),
        ("a8 17 58 ff fe 03 12 ab", "a81758fffe0312ab"),
        ("A8-17-58-FF-FE-03-12-AB", "a81758fffe0312ab"),
        ("a8:17:58:ff:fe:03:12:ab", "a81758fffe0312ab"),
    ],
)
def test_dev_eui_is_stored_as_16_lower_case_hex_digits(given: str, stored: str) -> None:
    assert make_spec(VALID | {"dev_eui": given}).dev_eui == stored


@pytest.mark.parametrize("dev_eui", ["xyz", "a81758fffe0312a", "a81758fffe0312abc", "g81758fffe0312ab"])
def test_dev_eui_refusals(dev_eui: str) -> None:
    assert refusal(dev_eui=dev_eui) == [f"dev_eui: {dev_eui!r} is not 16 hex digits"]


def test_interval_is_positive_whole_seconds_up_to_a_month() -> None:
    assert make_spec(VALID | {"interval_s": "600"}).interval_s == 600
    for bad in [0, -5, 30 * 24 * 3600 + 1]:
        (problem,) = refusal(interval_s=bad)
        assert problem.startswith(f"interval_s: {bad} is not a reporting interval")
    assert refusal(interval_s=1.5) == ["interval_s: 1.5 is not a whole number"]
    assert refusal(interval_s=True) == ["interval_s: True is not a number"]


def test_unknown_fields_are_refused_by_name() -> None:
    assert refusal(intervall_s=600) == ["intervall_s: unknown field (a typo?)"]


def test_every_bad_field_is_reported_at_once() -> None:
    fields = {problem.split(":")[0] for problem in refusal(id="a b", site="A", dev_eui="x", interval_s=0)}
    assert fields == {"id", "site", "dev_eui", "interval_s"}


def test_created_is_kept_in_utc() -> None:
    copenhagen = timezone(timedelta(hours=1))
    device = Device(
        id="kit-1",
        name="kit-1",
        model="native",
        site="harbour",
        interval_s=900,
        created=datetime(2026, 11, 1, 11, 15, tzinfo=copenhagen),
    )
    assert device.created == datetime(2026, 11, 1, 10, 15, tzinfo=UTC)
    assert device.as_record()["created"] == "2026-11-01T10:15:00Z"


def test_a_record_leaves_out_what_is_not_set() -> None:
    device = Device(id="kit-1", name="kit-1", model="native", site="h", interval_s=900, created=datetime.now(UTC))
    assert set(device.as_record()) == {"id", "name", "model", "site", "interval_s", "created"}


def test_a_file_entry_names_its_device_and_line() -> None:
    device, problems = device_problems({"id": "kit-7", "model": "native", "site": "h", "created": "x"}, line=12)
    assert device is None
    texts = sorted(str(problem) for problem in problems)
    assert texts[0].startswith("line 12 (kit-7), created: ")
    assert texts[1:] == ["line 12 (kit-7), interval_s: required", "line 12 (kit-7), name: required"]
    not_a_mapping = Problem("an entry must be a mapping of fields, not ['kit-7']", line=3)
    assert device_problems(["kit-7"], line=3) == (None, [not_a_mapping])


def test_problem_wording() -> None:
    assert str(Problem("bad", field="dev_eui", line=7)) == "line 7, dev_eui: bad"
    assert str(Problem("bad", field="dev_eui", device="kit-1")) == "device 'kit-1', dev_eui: bad"
    assert str(Problem("bad")) == "bad"
    error = RegistryError([Problem("one", line=1), Problem("two", line=2)], summary="file.csv:")
    assert str(error) == "file.csv:\n  line 1: one\n  line 2: two"


def test_spec_is_immutable() -> None:
    spec = DeviceSpec(id="kit-1", model="native", site="harbour")
    with pytest.raises(ValueError, match="frozen"):
        spec.site = "elsewhere"  # type: ignore[misc]
