"""CSV import and export: all or nothing, every bad row named, and a lossless round trip."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iot_suitcase.devices.codecs import DeviceModel
from iot_suitcase.devices.registry.importer import (
    COLUMNS,
    export_csv,
    format_tags,
    import_csv,
    parse_tags,
    read_csv,
)
from iot_suitcase.devices.registry.model import Device, RegistryError, make_spec
from iot_suitcase.devices.registry.store import Registry, RegistryFile, dump_yaml, parse_yaml

HEADER = ",".join(COLUMNS) + "\n"
THERMO = DeviceModel(
    id="acme/thermo", name="Thermo", kind="climate", quantities=("temperature",), fport=1, interval_s=300
)
MODELS = {THERMO.id: THERMO}
NOW = datetime(2026, 11, 1, 10, 15, tzinfo=UTC)
STARTER_KIT = Path(__file__).parent / "testdata" / "starter-kit.csv"


def import_text(registry: Registry, text: str) -> list[Device]:
    return import_csv(registry, io.StringIO(text), now=NOW, progress=False)


def problems_of(registry: Registry, text: str) -> list[str]:
    with pytest.raises(RegistryError) as caught:
        import_text(registry, text)
    return [str(problem) for problem in caught.value.problems]


def generated_rows(count: int) -> str:
    rows = [
        f"kit-{i:04d},{'acme/thermo' if i % 2 else 'native'},{'' if i % 2 else 'air_quality'},site-{i % 7},"
        f"Sensor {i},{56 + i / 10_000},{10 + i / 10_000},{i:016x},{'' if i % 3 else 60 + i},owner=tmf;n={i}\n"
        for i in range(count)
    ]
    return HEADER + "".join(rows)


def test_a_thousand_rows_import(tmp_path: Path) -> None:
    registry = Registry(models=MODELS)
    added = import_text(registry, generated_rows(1000))
    assert len(added) == len(registry) == 1000
    device = registry.get("kit-0503")
    assert device is not None
    assert device.model_dump(exclude={"created"}) == {
        "id": "kit-0503",
        "name": "Sensor 503",
        "model": "acme/thermo",
        "kind": "climate",  # the model's
        "site": "site-6",
        "location": {"lat": 56.0503, "lon": 10.0503},
        "dev_eui": "00000000000001f7",
        "interval_s": 300,  # the model's
        "tags": {"owner": "tmf", "n": "503"},
        "gateway": None,
    }
    explicit = registry.get("kit-0600")
    assert explicit is not None
    assert (explicit.kind, explicit.interval_s) == ("air_quality", 660)
    file = RegistryFile(tmp_path / "registry.yaml", models=MODELS)
    file.save(registry)
    assert file.load().devices == registry.devices


def test_two_bad_rows_import_nothing_and_both_are_named() -> None:
    registry = Registry(models=MODELS)
    lines = generated_rows(10).splitlines(keepends=True)
    lines[3] = "kit-x,native,,harbour,,,,xyz,,\n"  # line 4
    lines[7] = "kit-y,native,,Harbour,,91,10,,,\n"  # line 8
    assert problems_of(registry, "".join(lines)) == [
        "line 4, dev_eui: 'xyz' is not 16 hex digits",
        "line 8, site: site 'Harbour' is not valid: use 1-64 of a-z 0-9 - _ (lower-case)",
        "line 8, lat: 91 is outside [-90, 90]",
    ]
    assert len(registry) == 0


def test_the_summary_names_the_file_and_the_count(tmp_path: Path) -> None:
    path = tmp_path / "kit.csv"
    path.write_text("id,model,site\nok,native,h\n,native,h\n")
    with pytest.raises(RegistryError) as caught:
        import_csv(Registry(), path, progress=False)
    assert str(caught.value) == f"{path}: nothing imported; 1 problem:\n  line 3, id: required"


def test_duplicates_within_the_file_and_against_the_registry() -> None:
    registry = Registry(models=MODELS)
    registry.add(make_spec({"id": "old", "model": "native", "site": "h", "dev_eui": "a81758fffe0312ab"}))
    text = (
        "id,model,site,dev_eui\n"
        "new-1,native,h,A8-17-58-FF-FE-03-12-AB\n"
        "new-2,native,h,0011223344556677\n"
        "new-3,native,h,0011223344556677\n"
        "old,native,h,\n"
        "new-2,native,h,\n"
    )
    assert problems_of(registry, text) == [
        "line 2, dev_eui: a81758fffe0312ab is already the DevEUI of 'old'",
        "line 4, dev_eui: 0011223344556677 is also the DevEUI of 'new-2' (first on line 3)",
        "line 5, id: 'old' is already registered (site h)",
        "line 6, id: 'new-2' is given twice (first on line 3)",
    ]
    assert [device.id for device in registry.devices] == ["old"]


def test_duplicates_are_found_even_when_other_rows_are_bad() -> None:
    text = "id,model,site,dev_eui\na,native,h,0011223344556677\nb,native,BAD,\nc,native,h,0011223344556677\n"
    assert problems_of(Registry(), text) == [
        "line 3, site: site 'BAD' is not valid: use 1-64 of a-z 0-9 - _ (lower-case)",
        "line 4, dev_eui: 0011223344556677 is also the DevEUI of 'a' (first on line 2)",
    ]


def test_an_unknown_model_is_named_with_the_rows_other_problems() -> None:
    (model, dev_eui) = problems_of(Registry(models=MODELS), "id,model,site,dev_eui\na,acme/thermos,h,x\n")
    assert model.startswith("line 2, model: unknown model 'acme/thermos'; close matches: acme/thermo;")
    assert dev_eui == "line 2, dev_eui: 'x' is not 16 hex digits"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty: the first line must name the columns, e.g. id,model,site"),
        ("kit-1,native,harbour\n", "line 1: the first line must name the columns, e.g. id,model,site"),
        ("id,model,site,room\n", "line 1: unknown column 'room'; columns: id,model,kind,"),
        ("id,model,site,dev-eui\n", "line 1: unknown column 'dev-eui' (did you mean dev_eui?)"),
        ("id,model,site,name,name\n", "line 1: column 'name' is given twice"),
        ("id,model,name\n", "line 1: the required column 'site' is missing"),
        ("id,model,site\na,native,h,extra\n", "line 2: 4 values but the header names 3 columns"),
        ("id,model,site,lat\na,native,h,56\n", "line 2, lat: give lon too, or neither"),
        ("id,model,site,tags\na,native,h,floor\n", "line 2, tags: 'floor' is not key=value"),
        ("id,model,site,tags\na,native,h,a=1;a=2\n", "line 2, tags: tag 'a' is given twice"),
        ("id,model,site,interval_s\na,native,h,ten\n", "line 2, interval_s: 'ten' is not a whole number"),
        ('id,model,site,name\na,native,h,"x\n', "line 2: not readable as CSV"),
    ],
)
def test_file_mistakes(text: str, expected: str) -> None:
    problems = problems_of(Registry(), text)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_blank_lines_short_rows_spaces_and_any_column_order_are_fine() -> None:
    text = "\ufeffSite , ID,model,name\n\n harbour , kit-1 , native\n,,,\nh,kit-2,native,Two\n"
    specs, lines, problems = read_csv(text, progress=False)
    assert problems == []
    assert [(spec.id, spec.site, spec.name) for spec in specs] == [("kit-1", "harbour", None), ("kit-2", "h", "Two")]
    assert lines == [3, 5]


def test_line_numbers_count_lines_inside_quoted_cells() -> None:
    text = 'id,model,site,name\na,native,h,"x, y"\nb,native,h,ok\nc,native,h,"2\n3"\nd,native,BAD,\n'
    problems = problems_of(Registry(), text)
    assert problems[0].startswith("line 4, name: name '2\\n3' contains a control character")
    assert problems[1].startswith("line 6, site: ")


def test_a_danish_spreadsheet_with_semicolons_and_decimal_commas() -> None:
    text = 'id;model;site;lat;lon;tags\nkit-1;native;aarhus-c;56,15296;10,20317;"owner=tmf;floor=2"\n'
    (device,) = import_text(Registry(), text)
    assert device.location is not None
    assert (device.location.lat, device.location.lon) == (56.15296, 10.20317)
    assert device.tags == {"owner": "tmf", "floor": "2"}


def test_tags_text() -> None:
    assert parse_tags(" owner = tmf ; floor=2;;note=a=b;") == {"owner": "tmf", "floor": "2", "note": "a=b"}
    assert parse_tags("") == {}
    assert format_tags({"owner": "tmf", "note": "a=b"}) == "owner=tmf;note=a=b"


def test_the_shipped_starter_kit_example_imports() -> None:
    # The example names models that colleagues' codecs provide; stand-ins keep this test independent of them.
    stand_ins = {
        model_id: DeviceModel(id=model_id, name=model_id, kind=kind, quantities=(), fport=1, interval_s=600)
        for model_id, kind in [
            ("elsys/ers", "climate"),
            ("milesight-iot/em300-th", "climate"),
            ("dragino/ldds75", "level"),
        ]
    }
    registry = Registry(models=stand_ins)
    added = import_csv(registry, STARTER_KIT, progress=False)
    assert len(added) >= 5
    assert {device.site for device in added} >= {"aarhus-c", "dokk1"}
    assert all(device.kind is not None for device in added)


def test_export_writes_the_import_columns() -> None:
    registry = Registry(models=MODELS)
    registry.add(make_spec({"id": "a", "model": "acme/thermo", "site": "h", "name": "A, b", "tags": {"k": "v"}}))
    out = io.StringIO()
    export_csv(registry.devices, out)
    assert out.getvalue() == HEADER + 'a,acme/thermo,climate,h,"A, b",,,,300,k=v,\n'


# --- the round trip, over generated registries ----------------------------------------------------------

_text = st.text(
    alphabet=st.characters(exclude_categories=["Cc", "Cs", "Zl", "Zp"], exclude_characters=";"), min_size=1, max_size=30
)
_device = st.fixed_dictionaries(
    {
        "id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True),
        "model": st.sampled_from(["native", "acme/thermo", "ACME/Thermo"]),
        "site": st.from_regex(r"[a-z0-9_-]{1,12}", fullmatch=True),
    },
    optional={
        "kind": st.sampled_from(["climate", "air_quality", "noise", "level"]),
        "name": _text,
        "location": st.fixed_dictionaries(
            {"lat": st.floats(-90, 90, allow_nan=False), "lon": st.floats(-180, 180, allow_nan=False)}
        ),
        "dev_eui": st.from_regex(r"[0-9a-fA-F]{16}", fullmatch=True),
        "interval_s": st.integers(1, 30 * 24 * 3600),
        "tags": st.dictionaries(st.from_regex(r"[a-z0-9_-]{1,8}", fullmatch=True), _text, max_size=10),
        "gateway": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
    },
)


def _valid(fields: dict[str, Any]) -> bool:
    try:
        make_spec(fields)
    except RegistryError:
        return False  # e.g. a name of only spaces: the property is about every *valid* registry
    return True


_registries = st.lists(
    _device.filter(_valid),
    max_size=15,
    unique_by=(lambda d: d["id"], lambda d: str(d.get("dev_eui", d["id"])).lower()),
)


@settings(max_examples=150, deadline=None)
@given(_registries)
def test_export_then_import_gives_the_same_devices(devices: list[dict[str, Any]]) -> None:
    original = Registry(models=MODELS)
    original.add_all([make_spec(fields) for fields in devices], now=NOW)
    out = io.StringIO()
    export_csv(original.devices, out)

    again = Registry(models=MODELS)
    import_csv(again, io.StringIO(out.getvalue()), now=datetime(2027, 1, 1, tzinfo=UTC), progress=False)

    def without_created(registry: Registry) -> list[dict[str, Any]]:
        return [device.model_dump(exclude={"created"}) for device in registry.devices]

    assert without_created(again) == without_created(original)
    assert parse_yaml(dump_yaml(original), models=MODELS).devices == original.devices  # the file: lossless


def test_an_edited_sheet_imported_again_in_update_mode_replaces_its_devices(tmp_path: Path) -> None:
    file = RegistryFile(tmp_path / "registry.yaml")
    sheet = "id,model,site,name\nkit-1,native,dokk1,Hall\nkit-2,native,dokk1,Roof\n"
    with file.edit() as registry:
        import_csv(registry, io.StringIO(sheet))
    edited = "id,model,site,name\nkit-1,native,godsbanen,Hall\nkit-3,native,dokk1,Yard\n"
    with pytest.raises(RegistryError, match="kit-1"), file.edit() as registry:
        import_csv(registry, io.StringIO(edited))  # without update mode kit-1 exists already
    broken = "id,model,site,name\nkit-1,native,godsbanen,Hall\nkit-4,nope,dokk1,\n"
    with pytest.raises(RegistryError, match="nope"), file.edit() as registry:
        import_csv(registry, io.StringIO(broken), update=True)
    assert file.load().require("kit-1").site == "dokk1", "a refused sheet changes nothing, not even its good rows"
    with file.edit() as registry:
        import_csv(registry, io.StringIO(edited), update=True)
    loaded = file.load()
    assert (loaded.require("kit-1").site, loaded.require("kit-3").name) == ("godsbanen", "Yard")
    assert loaded.require("kit-2").name == "Roof", "a device the sheet does not name stays"


def test_add_given_leaves_out_empty_values_and_names_every_problem() -> None:
    registry = Registry()
    device = registry.add_given({"id": "kit-9", "model": "native", "site": "dokk1", "name": "", "dev_eui": None})
    assert (device.name, device.dev_eui) == ("kit-9", None)
    with pytest.raises(RegistryError) as refused:
        registry.add_given({"id": "bad id", "model": "native", "site": "Bad Site"})
    assert "id" in str(refused.value)
    assert "site" in str(refused.value)
