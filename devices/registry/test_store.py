"""The registry and its file: checked changes, a readable YAML file, atomic saves, reloads."""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from iot_suitcase.devices import codecs
from iot_suitcase.devices.codecs import DeviceModel
from iot_suitcase.devices.registry.model import RegistryError, make_spec
from iot_suitcase.devices.registry.store import (
    HEADER,
    QUARANTINE_SITE,
    Registry,
    RegistryFile,
    default_registry_path,
    dump_yaml,
    parse_yaml,
)

THERMO = DeviceModel(
    id="acme/thermo", name="Thermo", kind="climate", quantities=("temperature",), fport=1, interval_s=300
)
MODELS = {THERMO.id: THERMO}
NOW = datetime(2026, 11, 1, 10, 15, 42, 123456, tzinfo=UTC)


def spec(device_id: str = "kit-1", **fields: Any) -> Any:
    return make_spec({"id": device_id, "model": "native", "site": "harbour"} | fields)


def registry_of(*specs: Any) -> Registry:
    registry = Registry(models=MODELS)
    registry.add_all(specs, now=NOW)
    return registry


# --- the registry ---------------------------------------------------------------------------------------


def test_add_fills_defaults_from_the_model() -> None:
    registry = Registry(models=MODELS)
    device = registry.add(spec(model="acme/thermo"), now=NOW)
    assert (device.kind, device.interval_s, device.name) == ("climate", 300, "kit-1")
    assert device.created == datetime(2026, 11, 1, 10, 15, 42, tzinfo=UTC)  # to the second


def test_given_values_win_over_the_model_defaults() -> None:
    device = Registry(models=MODELS).add(spec(model="acme/thermo", kind="weather", interval_s=60, name="Mast"))
    assert (device.kind, device.interval_s, device.name) == ("weather", 60, "Mast")


def test_a_native_device_without_kind_has_none_and_the_default_interval() -> None:
    device = Registry(models=MODELS).add(spec())
    assert (device.kind, device.interval_s) == (None, 900)


def test_models_default_to_the_installed_codecs(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = Registry()  # reads devices.codecs.MODELS on every check, so a codec added later counts
    with pytest.raises(RegistryError, match="unknown model 'acme/thermo'"):
        registry.add(spec(model="acme/thermo"))
    monkeypatch.setitem(codecs.MODELS, THERMO.id, THERMO)
    assert registry.add(spec(model="acme/thermo")).interval_s == 300


def test_unknown_model_lists_close_matches() -> None:
    with pytest.raises(RegistryError) as caught:
        Registry(models=MODELS).add(spec(model="acme/termo"))
    assert str(caught.value).startswith("model: unknown model 'acme/termo'; close matches: acme/thermo;")


def test_lookups() -> None:
    registry = registry_of(spec("b", site="dokk1", dev_eui="A81758FFFE0312AB"), spec("a"), spec("c", site="dokk1"))
    assert [device.id for device in registry.devices] == ["a", "b", "c"]
    assert registry.sites == ("dokk1", "harbour")
    assert registry.get("b") is registry.devices[1]
    assert registry.get("nope") is None
    assert "a" in registry
    assert len(registry) == 3
    found = registry.by_dev_eui("a8-17-58-ff-fe-03-12-ab")
    assert found is not None
    assert found.id == "b"
    assert registry.by_dev_eui("0000000000000000") is None


def test_ids_and_dev_euis_are_unique() -> None:
    registry = registry_of(spec("a", dev_eui="a81758fffe0312ab"))
    with pytest.raises(RegistryError) as caught:
        registry.add(spec("a", site="dokk1"))
    assert str(caught.value) == "id: 'a' is already registered (site harbour)"
    with pytest.raises(RegistryError) as caught:
        registry.add(spec("b", dev_eui="A81758FFFE0312AB"))
    assert str(caught.value) == "dev_eui: a81758fffe0312ab is already the DevEUI of 'a'"
    assert [device.id for device in registry.devices] == ["a"]


def test_add_all_adds_nothing_if_anything_is_wrong_and_names_every_problem() -> None:
    registry = registry_of(spec("a"))
    batch = [spec("b"), spec("a"), spec("c", dev_eui="0011223344556677"), spec("d", dev_eui="0011223344556677")]
    with pytest.raises(RegistryError) as caught:
        registry.add_all(batch, lines=[2, 3, 4, 5])
    assert [str(problem) for problem in caught.value.problems] == [
        "line 3, id: 'a' is already registered (site harbour)",
        "line 5, dev_eui: 0011223344556677 is also the DevEUI of 'c' (first on line 4)",
    ]
    assert [device.id for device in registry.devices] == ["a"]
    assert registry.check_all(batch[:1]) == []


def test_remove_and_its_suggestions() -> None:
    registry = registry_of(spec("kit-07", dev_eui="0011223344556677"))
    with pytest.raises(RegistryError, match=r"no device 'kit-7' in the registry; did you mean kit-07\?"):
        registry.remove("kit-7")
    assert registry.remove("kit-07").id == "kit-07"
    assert len(registry) == 0
    assert registry.by_dev_eui("0011223344556677") is None
    registry.add(spec("other", dev_eui="0011223344556677"))  # the DevEUI is free again


def test_update_checks_like_add() -> None:
    registry = registry_of(spec("a", dev_eui="0011223344556677"), spec("b"))
    updated = registry.update("b", site="dokk1", location={"lat": 56.15, "lon": 10.2}, tags={"floor": "2"})
    assert (updated.site, updated.tags, updated.created) == ("dokk1", {"floor": "2"}, NOW.replace(microsecond=0))
    assert registry.get("b") == updated
    with pytest.raises(RegistryError, match="already the DevEUI of 'a'"):
        registry.update("b", dev_eui="00-11-22-33-44-55-66-77")
    with pytest.raises(RegistryError, match="site: site 'Dokk 1' is not valid"):
        registry.update("b", site="Dokk 1")
    with pytest.raises(RegistryError, match="id: cannot be changed"):
        registry.update("b", id="c")
    with pytest.raises(RegistryError, match="unknown model 'acme/nope'"):
        registry.update("b", model="acme/nope")
    assert registry.update("a", dev_eui="0011223344556677").dev_eui == "0011223344556677"  # its own DevEUI
    assert registry.get("b") == updated


def test_auto_register_quarantines_once() -> None:
    registry = Registry(models=MODELS)
    device = registry.auto_register("stranger-1")
    assert (device.site, device.model, device.kind, device.name) == (QUARANTINE_SITE, "native", None, "stranger-1")
    registry.update("stranger-1", site="harbour")
    assert registry.auto_register("stranger-1").site == "harbour"  # known devices are left alone
    assert registry.auto_register("thermo-9", model="acme/thermo").interval_s == 300
    with pytest.raises(RegistryError, match="id: device id 'bad id' is not valid"):
        registry.auto_register("bad id")
    assert len(registry) == 2


def test_device_models_for_the_lorawan_formats() -> None:
    registry = registry_of(spec("t1", model="acme/thermo", dev_eui="0011223344556677"), spec("n1"))
    assert registry.device_models() == {"t1": "acme/thermo", "0011223344556677": "acme/thermo"}


# --- the file format ------------------------------------------------------------------------------------


def test_the_file_is_commented_sorted_plain_yaml() -> None:
    registry = registry_of(
        spec("b", name="Rådhuspladsen", location={"lat": 56.15296, "lon": 10.20317}, tags={"floor": "-1"}),
        spec("a", model="acme/thermo", dev_eui="A81758FFFE0312AB"),
    )
    text = dump_yaml(registry)
    assert text.startswith(HEADER)
    assert text[len(HEADER) :] == (
        "version: 1\n"
        "devices:\n"
        "- id: a\n"
        "  name: a\n"
        "  model: acme/thermo\n"
        "  kind: climate\n"
        "  site: harbour\n"
        "  dev_eui: a81758fffe0312ab\n"
        "  interval_s: 300\n"
        "  created: '2026-11-01T10:15:42Z'\n"
        "- id: b\n"
        "  name: Rådhuspladsen\n"
        "  model: native\n"
        "  site: harbour\n"
        "  location:\n"
        "    lat: 56.15296\n"
        "    lon: 10.20317\n"
        "  interval_s: 900\n"
        "  tags:\n"
        "    floor: '-1'\n"
        "  created: '2026-11-01T10:15:42Z'\n"
    )
    assert parse_yaml(text, models=MODELS).devices == registry.devices


def test_values_that_yaml_would_misread_are_quoted() -> None:
    registry = registry_of(spec("1234", name="no", dev_eui="1234567890123456", tags={"on": "yes", "n": "0x10"}))
    again = parse_yaml(dump_yaml(registry), models=MODELS)
    assert again.devices == registry.devices


def test_an_empty_or_comment_only_file_is_an_empty_registry() -> None:
    assert len(parse_yaml("")) == 0
    assert len(parse_yaml(HEADER)) == 0
    assert len(parse_yaml("version: 1\ndevices: []\n")) == 0


def test_loading_reports_every_bad_entry_with_its_line() -> None:
    text = """\
version: 1
devices:
- id: good
  name: good
  model: native
  site: harbour
  interval_s: 900
  created: '2026-11-01T10:15:00Z'
- id: kit-7
  name: kit-7
  model: native
  site: harbour
  dev_eui: xyz
  interval_s: 900
  created: '2026-11-01T10:15:00Z'
- id: kit-8
  name: kit-8
  model: acme/gone
  site: harbour
  intervall_s: 900
  created: '2026-11-01T10:15:00Z'
- id: good
  name: again
  model: native
  site: harbour
  interval_s: 900
  created: '2026-11-01T10:15:00Z'
"""
    with pytest.raises(RegistryError) as caught:
        parse_yaml(text, models=MODELS)
    assert sorted(str(problem) for problem in caught.value.problems) == [
        "line 16 (kit-8), interval_s: required",
        "line 16 (kit-8), intervall_s: unknown field (a typo?)",
        "line 22 (good), id: 'good' is given twice (first on line 3)",
        "line 9 (kit-7), dev_eui: 'xyz' is not 16 hex digits",
    ]


def test_an_unknown_model_in_the_file_is_reported() -> None:
    text = "devices:\n- {id: a, name: a, model: acme/gone, site: h, interval_s: 9, created: '2026-11-01T10:15:00Z'}\n"
    with pytest.raises(RegistryError) as caught:
        parse_yaml(text, models=MODELS)
    (problem,) = caught.value.problems
    assert (problem.line, problem.device, problem.field) == (2, "a", "model")
    assert problem.message.startswith("unknown model 'acme/gone'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("devices:\n- id: a\n  site: h\n  site: g\n", "line 4: not valid YAML: the key 'site' is given twice"),
        ("devices: [\n", "not valid YAML"),
        ("- a\n- b\n", "line 1: the file must be a mapping with 'version' and 'devices'"),
        ("version: 2\ndevices: []\n", "version: 2 is not supported: this version reads 1"),
        ("devcies: []\n", "devcies: unknown field (a typo?)"),
        ("devices: {a: 1}\n", "devices: must be a list of devices"),
        ("devices:\n- kit-1\n", "line 2: an entry must be a mapping of fields, not 'kit-1'"),
    ],
)
def test_malformed_files(text: str, expected: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_yaml(text)
    assert expected in str(caught.value)


def test_yaml_scalars_that_are_not_text_get_a_hint() -> None:
    text = "devices:\n- {id: a, name: no, model: native, site: h, interval_s: 9, created: '2026-11-01T10:15:00Z'}\n"
    with pytest.raises(RegistryError) as caught:
        parse_yaml(text)
    assert str(caught.value) == "line 2 (a), name: False is not text (in YAML, quote it)"


# --- the file on disk -----------------------------------------------------------------------------------


def test_default_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUITCASE_REGISTRY_FILE", raising=False)
    assert default_registry_path() == Path("var/registry.yaml")
    monkeypatch.setenv("SUITCASE_REGISTRY_FILE", "/srv/kit/registry.yaml")
    assert RegistryFile().path == Path("/srv/kit/registry.yaml")


def test_a_registry_at_its_device_quota_refuses_one_more_from_every_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUITCASE_MAX_DEVICES", "2")
    file = RegistryFile(tmp_path / "registry.yaml", models=MODELS)
    with file.edit() as registry:
        registry.add(spec("a"))
        registry.add(spec("b"))
    before = file.path.read_bytes()
    grows: tuple[Callable[[Registry], object], ...] = (lambda r: r.add(spec("c")), lambda r: r.auto_register("c"))
    for grow in grows:
        with (
            pytest.raises(RegistryError, match=r"at most 2 devices \(SUITCASE_MAX_DEVICES\) and has 2"),
            file.edit() as registry,
        ):
            grow(registry)
    assert file.path.read_bytes() == before, "nothing saved"
    with file.edit() as registry:  # a change, or one out and another in, stays within it
        registry.remove("a")
        registry.add(spec("c"))
    assert sorted(device.id for device in file.load().devices) == ["b", "c"]


def test_save_and_load(tmp_path: Path) -> None:
    file = RegistryFile(tmp_path / "var" / "registry.yaml", models=MODELS)
    assert len(file.load()) == 0  # no file yet
    registry = registry_of(spec("a", model="acme/thermo"), spec("b", tags={"owner": "tmf"}))
    file.save(registry)
    assert file.load().devices == registry.devices
    assert stat.S_IMODE(file.path.stat().st_mode) == 0o644
    assert sorted(path.name for path in file.path.parent.iterdir()) == [".registry.yaml.lock", "registry.yaml"]


def test_a_failed_save_leaves_the_old_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = RegistryFile(tmp_path / "registry.yaml", models=MODELS)
    file.save(registry_of(spec("a")))
    before = file.path.read_bytes()

    def crash(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        file.save(registry_of(spec("a"), spec("b")))
    assert file.path.read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == [".registry.yaml.lock", "registry.yaml"]


def test_a_save_fsyncs_the_file_and_then_its_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append("directory" if stat.S_ISDIR(os.fstat(descriptor).st_mode) else "file")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    RegistryFile(tmp_path / "registry.yaml").save(Registry())
    assert synced == ["file", "directory"]


def test_a_symlinked_registry_stays_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "kit" / "registry.yaml"
    real.parent.mkdir()
    link = tmp_path / "registry.yaml"
    link.symlink_to(real)
    RegistryFile(link).save(registry_of(spec("a")))
    assert link.is_symlink()
    assert "- id: a\n" in real.read_text()


def test_edit_saves_changes_under_the_lock_and_nothing_on_error(tmp_path: Path) -> None:
    file = RegistryFile(tmp_path / "registry.yaml", models=MODELS)
    with file.edit() as registry:
        registry.add(spec("a"))
        descriptor = os.open(tmp_path / ".registry.yaml.lock", os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):  # another writer would wait here
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(descriptor)
    assert [device.id for device in file.load().devices] == ["a"]

    def add_b_then_a_again() -> None:
        with file.edit() as registry:
            registry.add(spec("b"))
            registry.add(spec("a"))  # refused: the whole edit is dropped

    with pytest.raises(RegistryError):
        add_b_then_a_again()
    assert [device.id for device in file.load().devices] == ["a"]


def test_save_inside_edit_does_not_wait_for_itself(tmp_path: Path) -> None:
    file = RegistryFile(tmp_path / "registry.yaml", models=MODELS)
    with file.edit() as registry:
        registry.add(spec("a"))
        file.save(registry)
        registry.add(spec("b"))
    assert [device.id for device in file.load().devices] == ["a", "b"]


def test_edit_without_changes_does_not_rewrite(tmp_path: Path) -> None:
    file = RegistryFile(tmp_path / "registry.yaml", models=MODELS)
    file.save(registry_of(spec("a")))
    inode = file.path.stat().st_ino
    with file.edit() as registry:
        assert registry.get("a") is not None
    assert file.path.stat().st_ino == inode


def test_load_names_the_file_and_counts_problems(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("devices:\n- {id: a}\n")
    with pytest.raises(RegistryError) as caught:
        RegistryFile(path).load()
    assert str(caught.value).startswith(
        f"{path}: 5 problems; fix the file and try again:\n  line 2 (a), name: required\n"
    )
    path.write_bytes(b"devices: [\xff]\n")
    with pytest.raises(RegistryError, match="not UTF-8"):
        RegistryFile(path).load()


def test_reload_if_changed(tmp_path: Path) -> None:
    writer = RegistryFile(tmp_path / "registry.yaml", models=MODELS)
    reader = RegistryFile(tmp_path / "registry.yaml", models=MODELS)
    first = reader.reload_if_changed()
    assert first is not None
    assert len(first) == 0  # no file is an empty registry
    assert reader.reload_if_changed() is None

    writer.save(registry_of(spec("a")))
    changed = reader.reload_if_changed()
    assert changed is not None
    assert [device.id for device in changed.devices] == ["a"]
    assert reader.reload_if_changed() is None

    with writer.edit() as registry:  # rewritten with the same size: still noticed (a new inode)
        registry.update("a", site="hbr-01")
        registry.update("a", site="harbour")
        registry.add(spec("b"))
        registry.remove("b")
    assert reader.reload_if_changed() is not None

    (tmp_path / "registry.yaml").write_text("devices: [\n")
    with pytest.raises(RegistryError):
        reader.reload_if_changed()
    assert reader.reload_if_changed() is None  # a bad edit is reported once, until the file changes again

    (tmp_path / "registry.yaml").unlink()
    gone = reader.reload_if_changed()
    assert gone is not None
    assert len(gone) == 0


def test_the_shipped_file_format_loads_with_the_safe_loader(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    RegistryFile(path, models=MODELS).save(registry_of(spec("a", location={"lat": 1.5, "lon": -2.25})))
    data = yaml.safe_load(path.read_text())
    assert data["devices"][0]["location"] == {"lat": 1.5, "lon": -2.25}
    assert data["version"] == 1
