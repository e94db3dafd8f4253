"""Only the product goes into a built package: test modules, test support (``testing*``) and test vectors
stay in the repository, beside the code they test."""

from __future__ import annotations

from setuptools import setup  # type: ignore[import-untyped]
from setuptools.command.build_py import build_py  # type: ignore[import-untyped]


def is_test_module(name: str) -> bool:
    return name.startswith(("test_", "testing")) or name == "conftest"


class ProductModulesOnly(build_py):  # type: ignore[misc]  # setuptools has no type hints
    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        modules = super().find_package_modules(package, package_dir)
        return [(pkg, module, path) for pkg, module, path in modules if not is_test_module(module)]


setup(cmdclass={"build_py": ProductModulesOnly})
