"""Running the product as another user than root, as its containers and units do (uid 10001).

This venv's interpreter lives under /root, which such a user cannot enter; Debian's Python 3.11 runs the same code
and packages (cp311 wheels), as the image's Python does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3.11"
REPO = Path(__file__).resolve().parent.parent


def usable() -> bool:
    """Whether this machine can run the product as another user: root, with Debian's Python 3.11."""
    return os.getuid() == 0 and os.access(SYSTEM_PYTHON, os.X_OK)


def suitcase_command(*args: str) -> list[str]:
    """`suitcase ARGS` for another user (with ``python_path()`` in its environment)."""
    return [SYSTEM_PYTHON, "-m", "iot_suitcase", *args]


def python_path() -> dict[str, str]:
    """The environment entry that lets Debian's Python import the product and this venv's packages."""
    packages = REPO / ".venv" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    return {"PYTHONPATH": f"{REPO}:{packages}"}


def become(uid: int, gid: int) -> Callable[[], None]:
    """A ``preexec_fn`` that drops the child to ``uid``:``gid`` before it runs."""

    def drop() -> None:
        os.setgid(gid)
        os.setuid(uid)

    return drop
