"""`suitcase devices ...` end to end, as an operator runs it (each start of the command costs ~0.5 s)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from iot_suitcase.devices.registry.importer import COLUMNS


def suitcase(
    cwd: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "SUITCASE_REGISTRY_FILE"}
    return subprocess.run(
        [sys.executable, "-m", "iot_suitcase", "devices", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=environment | (env or {}),
        check=False,
    )


def test_add_list_show_remove(tmp_path: Path) -> None:
    added = suitcase(
        tmp_path,
        "add", "aarhus-air-01", "--model", "native", "--site", "aarhus-c", "--kind", "air_quality",
        "--name", "Rådhuspladsen", "--lat", "56.15296", "--lon", "10.20317", "--dev-eui", "A8 17 58 FF FE 03 12 AB",
        "--interval-s", "300", "--tag", "owner=tmf", "--tag", "mount=lamppost",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added aarhus-air-01: model native, kind air_quality, site aarhus-c")
    assert (tmp_path / "var" / "registry.yaml").exists()  # the default path, relative to the working directory

    listed = suitcase(tmp_path, "list", "--site", "aarhus-c")
    header, row = listed.stdout.splitlines()
    assert header.split() == ["ID", "SITE", "MODEL", "KIND", "DEV_EUI", "EVERY", "NAME"]
    assert row.split() == [
        "aarhus-air-01",
        "aarhus-c",
        "native",
        "air_quality",
        "a81758fffe0312ab",
        "300",
        "s",
        "Rådhuspladsen",
    ]

    shown = suitcase(tmp_path, "show", "aarhus-air-01", "--json")
    device = json.loads(shown.stdout)
    assert device["location"] == {"lat": 56.15296, "lon": 10.20317}
    assert device["tags"] == {"owner": "tmf", "mount": "lamppost"}
    assert device["created"].endswith("Z")

    assert suitcase(tmp_path, "remove", "aarhus-air-01").returncode == 0
    missing = suitcase(tmp_path, "show", "aarhus-air-01")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == "error: no device 'aarhus-air-01' in the registry\n"


def test_import_then_export_round_trip(tmp_path: Path) -> None:
    registry = tmp_path / "kit" / "registry.yaml"
    rows = (
        "id,model,site,name,lat,lon,tags\n"
        'n-1,native,dokk1,"DOKK1, basement",56.15349,10.21395,floor=-1;owner=kultur\n'
        "n-2,native,aarhus-c,,,,\n"
    )
    imported = suitcase(tmp_path, "import", "-", stdin=rows, env={"SUITCASE_REGISTRY_FILE": str(registry)})
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == f"imported 2 devices into {registry} (2 in total)\n"

    exported = suitcase(tmp_path, "export", "--registry", str(registry))
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert tuple(table[0]) == COLUMNS
    assert table[0] == {
        "id": "n-1", "model": "native", "kind": "", "site": "dokk1", "name": "DOKK1, basement",
        "lat": "56.15349", "lon": "10.21395", "dev_eui": "", "interval_s": "900", "tags": "floor=-1;owner=kultur",
        "gateway": "",
    }  # fmt: skip
    assert [row["id"] for row in table] == ["n-1", "n-2"]

    as_yaml = suitcase(tmp_path, "export", "--format", "yaml", "--registry", str(registry))
    assert as_yaml.stdout == registry.read_text()
    assert [entry["id"] for entry in yaml.safe_load(as_yaml.stdout)["devices"]] == ["n-1", "n-2"]


def test_refusals_exit_1_and_usage_mistakes_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "kit.csv"
    bad.write_text("id,model,site,dev_eui\nok-1,native,harbour,\nbad-2,native,harbour,xyz\nbad 3,native,harbour,\n")
    refused = suitcase(tmp_path, "import", str(bad))
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        f"error: {bad}: nothing imported; 2 problems:",
        "  line 3, dev_eui: 'xyz' is not 16 hex digits",
        "  line 4, id: device id 'bad 3' is not valid: use 1-64 characters from A-Z a-z 0-9 . _ -, "
        "starting with a letter or digit",
    ]
    assert not (tmp_path / "var" / "registry.yaml").exists()

    usage = suitcase(tmp_path, "add", "kit-1", "--model", "native", "--site", "harbour", "--lat", "56.1")
    assert usage.returncode == 2
    assert "--lat and --lon go together" in usage.stderr
