"""Only the product goes into a built package: test modules, test support (``testing*``) and test vectors
stay in the repository, beside the code they test.

With ``SUITCASE_COMPILE=1`` (``scripts/setup``, the Dockerfile) the ingest hot path (``iot_suitcase/compiled.py``)
is compiled by mypyc as well, and ``compiled.json`` notes the sources it was compiled from."""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from setuptools import setup  # type: ignore[import-untyped]
from setuptools.command.build_ext import build_ext  # type: ignore[import-untyped]
from setuptools.command.build_py import build_py  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).parent))  # a PEP 517 build does not put the project on the path
with warnings.catch_warnings():  # a stale build is what this one replaces: no warning about it here
    warnings.simplefilter("ignore", RuntimeWarning)
    from iot_suitcase.compiled import GROUP, MANIFEST, MODULES, digests, source_of


def is_test_module(name: str) -> bool:
    return name.startswith(("test_", "testing")) or name == "conftest"


class ProductModulesOnly(build_py):  # type: ignore[misc]  # setuptools has no type hints
    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        modules = super().find_package_modules(package, package_dir)
        return [(pkg, module, path) for pkg, module, path in modules if not is_test_module(module)]


class BuildAndNote(build_ext):  # type: ignore[misc]
    """Builds the extensions, then notes the digests of the sources they were built from."""

    def run(self) -> None:
        super().run()
        if self.extensions:
            target = Path("iot_suitcase") if self.inplace else Path(self.build_lib) / "iot_suitcase"
            target.mkdir(parents=True, exist_ok=True)
            (target / MANIFEST).write_text(json.dumps(digests(), indent=1) + "\n", encoding="utf-8")


def compiled() -> list[Any]:
    if os.environ.get("SUITCASE_COMPILE") != "1":
        return []
    from mypyc.build import mypycify  # noqa: PLC0415 - only a build that compiles needs mypy

    paths = [str(source_of(module, Path("iot_suitcase"))) for module in MODULES]
    extensions: list[Any] = mypycify(paths, group_name=GROUP, opt_level="3")
    return extensions


setup(cmdclass={"build_py": ProductModulesOnly, "build_ext": BuildAndNote}, ext_modules=compiled())
