"""The definitions the public pages need, loaded once per (id, version) and cached.

A procedure is pinned to the definition version it started with (its `definition_version`
column); the site reads that version from the packaged catalogue to show planned phases,
role titles and how to take part. Loading YAML is slow (milliseconds), so every lookup is
cached for the life of the process; the catalogue is part of the installed package and does
not change while it runs. A procedure whose definition is no longer in the catalogue still
gets a page, just without the planned phases.
"""

from __future__ import annotations

import functools

from definitions import loader
from definitions.problems import DefinitionError
from definitions.schema import Definition

__all__ = ["definition", "definition_ids_of_kind", "kinds"]


@functools.lru_cache(maxsize=256)
def definition(definition_id: str, version: str | None = None) -> Definition | None:
    """The catalogue definition `definition_id` at `version` (newest if None), or None."""
    try:
        return loader.load_definition(definition_id, version).definition
    except (LookupError, DefinitionError):
        return None


@functools.lru_cache(maxsize=1)
def _catalogue() -> tuple[Definition, ...]:
    return tuple(d.definition for d in loader.list_definitions())


def kinds() -> dict[str, tuple[str, ...]]:
    """Each procedure kind of the catalogue with the definition ids of that kind, sorted."""
    found: dict[str, set[str]] = {}
    for defn in _catalogue():
        found.setdefault(defn.kind, set()).add(defn.id)
    return {kind: tuple(sorted(ids)) for kind, ids in sorted(found.items())}


def definition_ids_of_kind(kind: str) -> tuple[str, ...]:
    """Definition ids of `kind`; empty if the catalogue has no such kind."""
    return kinds().get(kind, ())
