"""Every storage module's `__all__` names things that exist, and covers its public names."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import activities.storage

FOUNDATION = {"pool", "migrate"}  # not part of issue 6 (pool.redact_url is not in its __all__)
MODULES = sorted(
    info.name
    for info in pkgutil.iter_modules(activities.storage.__path__)
    if info.name not in FOUNDATION and not info.name.startswith("_")  # _copyrows: C, private
)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(f"activities.storage.{name}")
    exported = set(module.__all__)
    assert all(hasattr(module, item) for item in exported)
    public = {
        item
        for item, value in vars(module).items()
        if not item.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }
    assert public <= exported, f"{name}: not in __all__: {sorted(public - exported)}"
