"""Issue #5's figure: importing a starter kit's CSV of 1,000 devices must take under 2 s.

Timed twice: ``import_csv`` into a fresh ``RegistryFile`` in process (load, check, save under the lock,
as the CLI does), and ``suitcase devices import`` as a subprocess, which is what an operator waits for
(interpreter start and imports included). Each run gets a fresh directory; the median and the slowest
are reported.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iot_suitcase.devices.registry import RegistryFile
from iot_suitcase.devices.registry.importer import COLUMNS, import_csv

# native sensors and the LoRaWAN models of the starter kit's own example file, in turn
_MODELS = ("native", "elsys/ers", "milesight-iot/em300-th", "dragino/ldds75", "elsys/ers-co2")
_KINDS = ("air_quality", "noise", "weather")


def write_csv(path: Path, devices: int) -> None:
    """A realistic starter-kit sheet: a mix of models, DevEUIs for LoRaWAN ones, locations, tags."""
    rows = [",".join(COLUMNS)]
    for i in range(devices):
        model = _MODELS[i % len(_MODELS)]
        native = model == "native"
        kind = _KINDS[i % len(_KINDS)] if native else ""
        dev_eui = "" if native else f"a84041{i:010x}"
        lat, lon = 56.15 + (i % 100) * 0.0005, 10.20 + (i // 100) * 0.0005
        tags = f"owner=team-{i % 7};floor={i % 5}"
        name = f'"Sensor {i}, block {i // 50}"'
        rows.append(f"kit-{i:05d},{model},{kind},site-{i % 20},{name},{lat:.5f},{lon:.5f},{dev_eui},300,{tags}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _in_process(csv_path: Path, directory: Path) -> float:
    registry_file = RegistryFile(directory / "registry.yaml")
    started = time.perf_counter()
    with registry_file.edit() as registry:
        added = import_csv(registry, csv_path, progress=False)
    seconds = time.perf_counter() - started
    if len(added) != len(registry_file.load()):
        raise RuntimeError("the registry does not hold what was imported")
    return seconds


def _command(csv_path: Path, directory: Path) -> float:
    argv = [sys.executable, "-m", "iot_suitcase", "devices", "import", str(csv_path)]
    argv += ["--registry", str(directory / "registry.yaml")]
    started = time.perf_counter()
    subprocess.run(argv, check=True, cwd=directory, capture_output=True, timeout=120)
    return time.perf_counter() - started


def run(devices: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as temp:
        root = Path(temp)
        csv_path = root / "devices.csv"
        write_csv(csv_path, devices)
        in_process = []
        command = []
        for attempt in range(repeats):
            run_dir = root / f"in-process-{attempt}"
            run_dir.mkdir()
            in_process.append(_in_process(csv_path, run_dir))
            run_dir = root / f"command-{attempt}"
            run_dir.mkdir()
            command.append(_command(csv_path, run_dir))
    return {
        "devices": devices,
        "repeats": repeats,
        "in_process_s": {"median": round(statistics.median(in_process), 3), "max": round(max(in_process), 3)},
        "command_s": {"median": round(statistics.median(command), 3), "max": round(max(command), 3)},
        "runs_in_process_s": [round(s, 3) for s in in_process],
        "runs_command_s": [round(s, 3) for s in command],
    }
