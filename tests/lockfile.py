"""The lock file of runtime dependencies: every package the product needs at run time, at the version the
suite ran against. `scripts/setup`, the Dockerfile and CI install with ``-c requirements.lock``, so an image
never gets a version the tests did not run. Regenerate with `scripts/lock` after changing a dependency."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"
HEADER = "# Runtime dependencies at the versions the suite ran against; written by scripts/lock, do not edit.\n"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(project: str = "iot-suitcase") -> dict[str, str]:
    """Installed version of every package the project's runtime requirements pull in (extras followed)."""
    found: dict[str, tuple[str, set[str]]] = {}
    todo = [(text, "") for text in metadata.requires(project) or []]
    while todo:
        text, extra = todo.pop()
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = normalise(requirement.name)
        distribution = metadata.distribution(requirement.name)
        known = found.get(name)
        wanted = set(requirement.extras)
        if known is not None and wanted <= known[1]:
            continue
        extras = (known[1] if known else set()) | wanted
        found[name] = (distribution.version, extras)
        todo += [(sub, e) for sub in distribution.requires or [] for e in ("", *extras)]
    return {name: version for name, (version, _extras) in sorted(found.items())}


def render(closure: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in closure.items())


def read_lock(path: Path = LOCK) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[normalise(name)] = version
    return pins


if __name__ == "__main__":
    LOCK.write_text(render(runtime_closure()))
    print(f"wrote {LOCK.name}: {len(read_lock())} packages", file=sys.stderr)
