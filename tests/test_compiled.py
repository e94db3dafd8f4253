"""The ingest hot path runs compiled (scripts/setup builds it), and never as it was before its sources changed."""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import json
import sys
import types
from pathlib import Path

import pytest

from iot_suitcase import compiled
from iot_suitcase.compiled import MANIFEST, SourcesOnly, Status, check, guard
from iot_suitcase.devices.decode import Outcome
from iot_suitcase.ingest.operations.status import Latest, Seen
from iot_suitcase.ingest.wal.waiting import Entry


def test_the_hot_path_runs_compiled() -> None:
    assert compiled.STATUS is Status.COMPILED, "scripts/setup compiles the hot path (mypyc, gcc, python3-dev)"
    for module in compiled.MODULES:
        path = importlib.import_module(module).__file__
        assert path is not None
        assert path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), module


def test_what_is_made_for_every_message_is_made_by_compiled_code() -> None:
    """A dataclass keeps its generated ``__init__`` when compiled: interpreted, and for a frozen one ten
    times a compiled one's cost. The objects made per message write their own."""
    for made_per_message in (Outcome, Entry, Seen, Latest):
        assert not isinstance(made_per_message.__init__, types.FunctionType), made_per_message.__name__


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A package ``fakehot`` with one module, a stand-in for its extension and the build's manifest."""
    package = tmp_path / "fakehot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("VALUE = 1\n")
    # not a loadable extension: importing it instead of the source would fail loudly
    (package / f"mod{importlib.machinery.EXTENSION_SUFFIXES[0]}").write_bytes(b"not an extension")
    digest = hashlib.sha256(b"VALUE = 1\n").hexdigest()
    (package / MANIFEST).write_text(json.dumps({"fakehot.mod": digest}))
    return package


def test_a_build_that_matches_its_sources_is_used(built: Path) -> None:
    assert check(["fakehot.mod"], built) is Status.COMPILED


def test_no_extension_is_not_built(built: Path) -> None:
    next(built.glob("mod.*.so")).unlink()
    assert check(["fakehot.mod"], built) is Status.NOT_BUILT
    (built / MANIFEST).unlink()
    assert check(["fakehot.mod"], built) is Status.NOT_BUILT


def test_an_incomplete_build_is_stale(built: Path) -> None:
    (built / "other.py").write_text("VALUE = 3\n")
    assert check(["fakehot.mod", "fakehot.other"], built) is Status.STALE, "one module of two built"
    (built / MANIFEST).unlink()
    assert check(["fakehot.mod"], built) is Status.STALE, "built, but no note of what from"


def test_a_source_edited_after_the_build_runs_as_edited(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (built / "mod.py").write_text("VALUE = 2\n")
    monkeypatch.syspath_prepend(str(built.parent))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # the finder guard() adds goes with the test
    with pytest.warns(RuntimeWarning, match="older than its sources"):
        assert guard(["fakehot.mod"], built) is Status.STALE
    assert isinstance(sys.meta_path[0], SourcesOnly)
    try:
        module = importlib.import_module("fakehot.mod")
        assert module.VALUE == 2
        assert module.__file__ == str(built / "mod.py")
    finally:
        sys.modules.pop("fakehot.mod", None)
        sys.modules.pop("fakehot", None)
