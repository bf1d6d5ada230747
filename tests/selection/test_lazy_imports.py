"""The solver stack loads only when a selection runs, not with every `civicflow` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

import activities.selection as selection

HEAVY = ("numpy", "scipy", "matplotlib", "highspy")


@pytest.mark.parametrize("module", ["worker.cli", "worker.registry", "activities.selection"])
def test_importing_does_not_load_the_solver(module: str) -> None:
    code = f"import sys, {module}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"


def test_lazy_names_resolve_and_unknown_names_fail() -> None:
    assert selection.select_panel.__module__ == "activities.selection.select"
    assert selection.Quotas.__name__ == "Quotas"
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = selection.no_such_name
