"""The README keeps its promises: the two commands first, every setting documented."""

from __future__ import annotations

from pathlib import Path

from iot_suitcase.ingest.config import IngestSettings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert "scripts/up" in first_block
    assert "scripts/test" in first_block


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in IngestSettings.model_fields:
        assert f"`SUITCASE_{name.upper()}`" in README, f"SUITCASE_{name.upper()} is not documented"
        assert f"`--{name.replace('_', '-')}`" in README


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "scripts/test" in ci
