"""Each module's `__all__` names exactly its public names, and they all exist."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "definitions.calendar",
    "definitions.schema",
    "definitions.loader",
    "definitions.validate",
    "definitions.problems",
    "definitions.export",
    "definitions.schema_errors",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, item) for item in exported)
    defined_here = {
        item
        for item, value in vars(module).items()
        if not item.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and getattr(value, "__module__", None) == name
    }
    assert defined_here <= exported, sorted(defined_here - exported)
