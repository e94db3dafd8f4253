"""An installation of the previous release keeps working under this code with no manual step (#18): the
upgrade that brought tenants changed how the broker files are made (an ACL section per account, one part per
tenant), what the ingest account may read and how the console names its cookies.

The previous release is a commit of this repository's history (``PREVIOUS_RELEASE``), unpacked with
``git archive`` and run from its own folder on the same Python environment: its `suitcase init`, a device with
credentials, its ingest service storing a reading and keeping its log. Then this code's ingest service starts in
the same folder, takes the reading the broker kept for it meanwhile, goes on storing, and a device added now gets
credentials beside the old device's, whose password keeps working."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from iot_suitcase.devices.credentials import BrokerFiles
from iot_suitcase.servers import InfluxDB, Mosquitto
from tests.helpers import wait_until
from tests.test_tenants import Service, publish

REPO = Path(__file__).resolve().parent.parent
# the last commit before tenants: the release an installation in the field runs
PREVIOUS_RELEASE = "92e50fb75ddd9b9a0e3db53ec9e61f97bba2b2b8"


@pytest.fixture
def influxdb(influxdb_factory: Callable[..., InfluxDB]) -> InfluxDB:
    """An InfluxDB of this test's own (in place of the suite's shared one): these tests count what lands in
    databases of fixed names."""
    return influxdb_factory()


def unpack_release(commit: str, into: Path) -> Path:
    """The release's tree, symbolic links included, as `git archive` gives it."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit], capture_output=True, check=False
    )
    assert archive.returncode == 0, f"the previous release {commit} is not in this clone's history: {archive.stderr!r}"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="tar")
    return into


def test_an_installation_of_the_previous_release_keeps_ingesting_under_this_code(
    tmp_path: Path, mosquitto_factory: Callable[..., Mosquitto], influxdb: InfluxDB
) -> None:
    release = unpack_release(PREVIOUS_RELEASE, tmp_path / "release")
    site = tmp_path / "site"
    site.mkdir()
    clean = {key: value for key, value in os.environ.items() if not key.startswith("SUITCASE_")}

    def old(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "iot_suitcase", *args],
            cwd=site,
            env=clean | {"PYTHONPATH": str(release)},
            capture_output=True,
            text=True,
            check=True,
        )

    def new(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "iot_suitcase", *args],
            cwd=site,
            env=clean,
            capture_output=True,
            text=True,
            check=True,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import iot_suitcase.devices.settings as s; print(s.__file__)"],
        cwd=site, env=clean | {"PYTHONPATH": str(release)}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(release)), "the old commands run the previous release's code"

    old("init")
    old("devices", "add", "kit-1", "--model", "native", "--site", "city-hall")
    kit1 = json.loads(old("devices", "credentials", "kit-1", "--json").stdout)
    var = site / "var" / "mosquitto"
    broker = mosquitto_factory(
        files=BrokerFiles(var / "passwd", var / "acl", var / "passwd-service", var / "acl-service")
    )

    def stored() -> int:
        return influxdb.count("suitcase", "temperature") if "suitcase" in influxdb.databases() else 0

    previous = Service(site, None, broker, influxdb, pythonpath=release)
    try:
        assert publish(broker, kit1["mqtt_username"], kit1["mqtt_password"], "suitcase/kit-1/up") == 0
        wait_until(lambda: stored() == 1, 20, "the previous release storing a reading")
    finally:
        previous.stop()
    assert (site / "var" / "ingest").is_dir(), "the previous release kept its log where this code looks"
    # while no service runs, the broker keeps the reading for the ingest account's session
    assert publish(broker, kit1["mqtt_username"], kit1["mqtt_password"], "suitcase/kit-1/up") == 0

    current = Service(site, None, broker, influxdb)
    try:
        wait_until(lambda: stored() == 2, 20, "the kept reading, taken by this code's service")
        assert publish(broker, kit1["mqtt_username"], kit1["mqtt_password"], "suitcase/kit-1/up") == 0
        wait_until(lambda: stored() == 3, 20, "the old device's next reading")

        new("devices", "add", "kit-2", "--model", "native", "--site", "city-hall")
        kit2 = json.loads(new("devices", "credentials", "kit-2", "--json").stdout)
        broker.reload()
        assert publish(broker, kit2["mqtt_username"], kit2["mqtt_password"], "suitcase/kit-2/up") == 0
        assert publish(broker, kit1["mqtt_username"], kit1["mqtt_password"], "suitcase/kit-1/up") == 0, (
            "the old device's password works in the broker files this code wrote"
        )
        assert publish(broker, kit2["mqtt_username"], kit2["mqtt_password"], "suitcase/kit-1/up") == 135
        wait_until(lambda: stored() == 5, 20, "both devices' readings")
        assert "Traceback" not in current.log()
    finally:
        current.stop()
