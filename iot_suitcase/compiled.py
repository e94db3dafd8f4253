"""The ingest hot path compiled by mypyc, used only while it matches its sources.

``MODULES`` run for every message ingested; compiled by mypyc (the compiler mypy ships, from the same
type hints) the intake takes a quarter less CPU per message (``bench/README.md``). ``scripts/setup`` and the
Dockerfile build them (``SUITCASE_COMPILE=1``, see ``setup.py``); the build writes ``compiled.json``, each
module's source digest. Python would import a built module even after its source was edited, so at import
of the package the digests are compared with the sources: if any differs, or the build is incomplete, every
module of the group is read from its source (they call each other natively, so it is all or none) and
``STATUS`` says why.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
import warnings
from collections.abc import Sequence
from enum import StrEnum
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).parent
GROUP = "iot_suitcase.hotpath"  # mypyc's shared library: iot_suitcase/hotpath__mypyc.*.so
MODULES = (
    "iot_suitcase.devices.decode",
    "iot_suitcase.devices.formats.native.decoder",
    "iot_suitcase.devices.formats.unique_keys",
    "iot_suitcase.devices.timestamps",
    "iot_suitcase.ingest.intake.directory",
    "iot_suitcase.ingest.intake.intake",
    "iot_suitcase.ingest.operations.status",
    "iot_suitcase.ingest.sink.batch",
    "iot_suitcase.ingest.sink.drainer",
    "iot_suitcase.ingest.sink.points",
    "iot_suitcase.ingest.sources.mqtt",
    "iot_suitcase.ingest.sources.publish",
    "iot_suitcase.ingest.wal.committer",
    "iot_suitcase.ingest.wal.records",
    "iot_suitcase.ingest.wal.redelivery",
    "iot_suitcase.ingest.wal.waiting",
)
MANIFEST = "compiled.json"
# A compiled class cannot be subclassed by an interpreted one: the MQTT reader (``sources/mqttclient.py``, a
# subclass of paho's client, itself subclassed by the benchmark) runs interpreted.


class Status(StrEnum):
    COMPILED = "compiled"
    NOT_BUILT = "not built"  # a checkout without scripts/setup, or a build without a compiler
    STALE = "stale"  # sources edited since the build, or an incomplete build: the sources run until it is built


def source_of(module: str, package: Path = PACKAGE) -> Path:
    return package.joinpath(*module.split(".")[1:]).with_suffix(".py")


def digests(modules: Sequence[str] = MODULES, package: Path = PACKAGE) -> dict[str, str]:
    """Each module's source digest, as the build notes them in ``compiled.json``."""
    return {module: hashlib.sha256(source_of(module, package).read_bytes()).hexdigest() for module in modules}


def is_built(module: str, package: Path = PACKAGE) -> bool:
    source = source_of(module, package)
    return any(source.with_suffix(suffix).exists() for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def check(modules: Sequence[str] = MODULES, package: Path = PACKAGE) -> Status:
    built = [is_built(module, package) for module in modules]
    manifest = package / MANIFEST
    if not any(built):
        return Status.NOT_BUILT
    if not all(built) or not manifest.exists():
        return Status.STALE  # an interrupted build, or one of another list of modules
    if json.loads(manifest.read_text(encoding="utf-8")) != digests(modules, package):
        return Status.STALE
    return Status.COMPILED


class SourcesOnly(importlib.abc.MetaPathFinder):
    """Finds the group's modules as their ``.py`` sources, never as the built extensions beside them."""

    def __init__(self, modules: Sequence[str], package: Path = PACKAGE) -> None:
        self._sources = {module: source_of(module, package) for module in modules}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        source = self._sources.get(fullname)
        if source is None:
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def guard(modules: Sequence[str] = MODULES, package: Path = PACKAGE) -> Status:
    """Check the build against the sources; a stale one is set aside (see the module docstring)."""
    status = check(modules, package)
    if status is Status.STALE:
        sys.meta_path.insert(0, SourcesOnly(modules, package))
        warnings.warn(
            "the compiled ingest hot path is older than its sources: running the sources (scripts/setup builds it)",
            RuntimeWarning,
            stacklevel=2,
        )
    return status


STATUS = guard()
