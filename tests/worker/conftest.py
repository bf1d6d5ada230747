"""Fixtures for worker tests: the `civicflow` executable and a clean environment for it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def civicflow_exe() -> Path:
    """The console script installed beside our interpreter."""
    exe = Path(sys.executable).parent / "civicflow"
    assert exe.is_file(), f"{exe} missing: is the project installed (pip install -e .)?"
    return exe


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment without any CIVICFLOW_* setting, so only the test's own apply."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIVICFLOW_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env
