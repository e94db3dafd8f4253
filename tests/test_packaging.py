"""A built package holds the product and nothing of its tests (#14): no test module, no test support, no
test vectors, every product module, and one top-level name of its own (no generic ``devices`` or ``ingest``
in a user's site-packages)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.test_architecture import REPO, product_modules


def test_the_wheel_ships_every_product_module_and_no_test(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy of what git tracks: the build writes build/ and egg-info
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_symlink():  # the domain folders linked into the namespace folder
            (source / name).symlink_to(os.readlink(REPO / name))
        elif (REPO / name).is_file():
            shutil.copy2(REPO / name, source / name)
    built = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(built), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    [wheel] = built.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    files = [name.rsplit("/", 1)[-1] for name in names]
    assert not [n for n, f in zip(names, files, strict=True) if f.startswith(("test_", "testing", "conftest"))]
    assert not [name for name in names if "/testdata/" in name or name.startswith("tests/")]
    shipped = {name.removesuffix(".py").replace("/", ".").removesuffix(".__init__") for name in names}
    assert set(product_modules()) <= shipped
    assert {name.split("/")[0] for name in names} == {"iot_suitcase", "iot_suitcase-0.1.0.dist-info"}
    assert "iot_suitcase/devices/catalog/quantities.toml" in names
    assert "iot_suitcase/servers/mosquitto.conf" in names
    assert "iot_suitcase/ingest/console/templates/login.html" in names
