"""What is public is worked out once per change of the rules file or the registry, and a withdrawal or a new
device shows at the next request all the same."""

from __future__ import annotations

from pathlib import Path

from iot_suitcase.devices.catalog import load_catalog
from iot_suitcase.devices.opendata.model import Choice, Scope
from iot_suitcase.devices.opendata.store import change_choice
from iot_suitcase.devices.registry import Registry, RegistryFile, make_spec
from iot_suitcase.devices.settings import InfluxSettings
from iot_suitcase.ingest.opendata.published import Published
from iot_suitcase.ingest.opendata.readings import PublicReadings


def registry_of(path: Path, *devices: str) -> Registry:
    with RegistryFile(path).edit() as registry:
        for device in devices:
            registry.add(make_spec({"id": device, "model": "native", "kind": "climate", "site": "harbour"}))
    return RegistryFile(path).load()


def test_what_is_public_is_made_again_only_when_the_rules_or_the_registry_change(tmp_path: Path) -> None:
    rules_file = tmp_path / "opendata.toml"
    current = [registry_of(tmp_path / "registry.yaml", "kit-1")]
    readings = PublicReadings(InfluxSettings(_env_file=None))
    published = Published(lambda: current[0], load_catalog(), rules_file, readings)
    assert published.now()[1] == [], "nothing is public by default"

    change_choice(rules_file, Choice(Scope.SITE, "harbour"), publish=True, quantities=())
    first = published.now()
    assert {stream.device.id for stream in first[1]} == {"kit-1"}
    assert published.now() is first, "unchanged: not worked out again"

    current[0] = registry_of(tmp_path / "registry.yaml", "kit-2")
    second = published.now()
    assert {stream.device.id for stream in second[1]} == {"kit-1", "kit-2"}, "a new device shows at once"

    change_choice(rules_file, Choice(Scope.SITE, "harbour"), publish=False, quantities=())
    assert published.now()[1] == [], "a withdrawal shows at once"
