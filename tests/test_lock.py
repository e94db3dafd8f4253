"""One lock file of runtime dependencies, which setup, the Dockerfile and CI all install from (#14)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from tests.lockfile import LOCK, normalise, read_lock, render, runtime_closure

REPO = Path(__file__).resolve().parent.parent


def test_the_lock_pins_every_runtime_dependency_at_the_version_the_suite_runs() -> None:
    assert LOCK.read_text() == render(runtime_closure()), "requirements.lock is stale: run scripts/lock"


def test_the_lock_satisfies_the_projects_own_ranges() -> None:
    pins = read_lock()
    for text in metadata.requires("iot-suitcase") or []:
        requirement = Requirement(text)
        if requirement.marker is None:
            assert requirement.specifier.contains(pins[normalise(requirement.name)], prereleases=True), text


def test_setup_the_dockerfile_and_ci_install_from_the_lock() -> None:
    setup = (REPO / "scripts" / "setup").read_text()
    assert "pip install -q -c requirements.lock -e '.[dev]'" in setup
    assert "requirements.lock" in setup.split("want=", 1)[1].split("\n", 1)[0], "a new lock reinstalls"
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "RUN pip install --no-cache-dir -c requirements.lock -r requirements.lock " in dockerfile
    assert "RUN pip install --no-cache-dir --no-build-isolation --no-deps ." in dockerfile
    assert "requirements.lock" in dockerfile.split("RUN pip", 1)[0], "copied before it is used"
    assert "scripts/test" in (REPO / ".ci" / "run").read_text(), "CI runs the test command, which runs setup"
