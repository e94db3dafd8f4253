"""One settings tree (#13 point 9): every command reads each setting the same way, with one default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from iot_suitcase.config import COMMAND_SETTINGS, groups, markdown_table, ordered_fields
from iot_suitcase.config import declared as declared_by
from iot_suitcase.devices.credentials.settings import SecuritySettings
from iot_suitcase.devices.settings import SuitcaseSettings
from iot_suitcase.ingest.config import IngestSettings

README = (Path(__file__).parent.parent / "README.md").read_text()


def suitcase(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SUITCASE_")}
    return subprocess.run(
        [sys.executable, "-m", "iot_suitcase", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_registry_named_in_dotenv_is_the_one_every_command_uses(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SUITCASE_REGISTRY_FILE=kit/devices.yaml\n")
    added = suitcase(tmp_path, "devices", "add", "kit-1", "--model", "native", "--site", "office")
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "kit" / "devices.yaml").exists(), "`suitcase devices` must read .env as ingest does"
    assert not (tmp_path / "var" / "registry.yaml").exists()
    effective = json.loads(suitcase(tmp_path, "config", "--json").stdout)
    assert effective["SUITCASE_REGISTRY_FILE"] == "kit/devices.yaml"


def test_every_setting_is_declared_once() -> None:
    seen: dict[str, type[SuitcaseSettings]] = {}
    for group in groups():
        for name in declared_by(group):
            assert name not in seen, f"{name} is declared in {seen[name].__name__} and {group.__name__}"
            seen[name] = group
    for command in COMMAND_SETTINGS:
        for name, info in command.model_fields.items():
            declared = seen[name].model_fields[name]
            assert (info.default, info.description) == (declared.default, declared.description), name


def test_one_validation_per_setting_the_topic_root_everywhere() -> None:
    for settings in (IngestSettings, SecuritySettings):
        with pytest.raises(ValidationError):
            settings(topic_root="a/b")
        with pytest.raises(ValidationError):
            settings(topic_root="$SYS")


def test_service_accounts_and_the_ingest_client_id_live_in_the_reserved_namespace() -> None:
    with pytest.raises(ValidationError, match="no device id can have"):
        IngestSettings(mqtt_username="ingest")
    with pytest.raises(ValidationError, match="simulator_mqtt_username"):
        SecuritySettings(simulator_mqtt_username="kit-1")
    with pytest.raises(ValidationError, match="mqtt_client_id"):
        IngestSettings(mqtt_client_id="kit-1")
    assert IngestSettings(mqtt_client_id="suitcase-ingest-2").mqtt_client_id == "suitcase-ingest-2"


def test_the_readme_table_is_the_settings_tree() -> None:
    table = markdown_table()
    assert table in README, "regenerate the README's table: suitcase config --markdown"
    assert len(ordered_fields()) == table.count("\n| `SUITCASE_")
