"""The `load_definition` activity's cache: reused while files are unchanged, never stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import contracts as c
from activities.definitions_io import CACHE, DefinitionCache, load_definition, loaded_result
from definitions import loader

CATALOGUE = Path(loader.catalogue_root())  # type: ignore[arg-type]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copy(CATALOGUE / "baugb-3-2.yaml", tmp_path / "baugb-3-2.yaml")
    shutil.copy(CATALOGUE / "baugb-4-2.yaml", tmp_path / "baugb-4-2.yaml")
    return tmp_path


def test_second_load_is_a_hit_with_the_same_snapshot(root: Path) -> None:
    cache = DefinitionCache(root)
    first = cache.load("baugb-3-2")
    second = cache.load("baugb-3-2")
    assert (cache.misses, cache.hits) == (1, 1)
    assert second is first
    fresh = loaded_result(loader.load_definition("baugb-3-2", root=root))
    assert second == fresh


def test_an_edited_file_is_parsed_again(root: Path) -> None:
    """A comment changes the file but not the definition: parsed again, same content hash."""
    cache = DefinitionCache(root)
    before = cache.load("baugb-3-2")
    path = root / "baugb-3-2.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    after = cache.load("baugb-3-2")
    assert (cache.misses, cache.hits) == (2, 0)
    assert after is not before
    assert after.content_hash == before.content_hash


def test_a_changed_definition_changes_the_pinned_content_hash(root: Path) -> None:
    cache = DefinitionCache(root)
    before = cache.load("baugb-4-2")
    path = root / "baugb-4-2.yaml"
    text = path.read_text(encoding="utf-8")
    assert 'version: "1.0.0"' in text
    path.write_text(text.replace('version: "1.0.0"', 'version: "1.1.0"', 1), encoding="utf-8")
    after = cache.load("baugb-4-2")
    assert (before.version, after.version) == ("1.0.0", "1.1.0")
    assert after.content_hash != before.content_hash
    assert after == loaded_result(loader.load_definition("baugb-4-2", root=root))
    assert cache.load("baugb-4-2", "1.1.0") == after
    with pytest.raises(LookupError, match=r"baugb-4-2 version 1\.0\.0"):
        cache.load("baugb-4-2", "1.0.0")


def test_a_changed_file_beside_the_definitions_is_seen(root: Path) -> None:
    """Definitions may reference files (outreach targets CSVs, in subfolders too)."""
    (root / "targets").mkdir()
    csv = root / "targets" / "panel.csv"
    csv.write_text("dimension,category,share\n", encoding="utf-8")
    cache = DefinitionCache(root)
    cache.load("baugb-3-2")
    csv.write_text("dimension,category,share\nage,16-29,0.2\n", encoding="utf-8")
    cache.load("baugb-3-2")
    cache.load("baugb-3-2")
    assert (cache.misses, cache.hits) == (2, 1)


def test_a_removed_file_is_not_served_from_the_cache(root: Path) -> None:
    cache = DefinitionCache(root)
    cache.load("baugb-4-2")
    (root / "baugb-4-2.yaml").unlink()
    with pytest.raises(LookupError, match="no definition baugb-4-2"):
        cache.load("baugb-4-2")


def test_an_invalid_file_is_reported_every_time(root: Path) -> None:
    cache = DefinitionCache(root)
    (root / "baugb-4-2.yaml").write_text("id: baugb-4-2\nphases: [\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(loader.DefinitionError):
            cache.load("baugb-4-2")
    assert cache.hits == 0


def test_least_recently_used_entries_are_dropped(root: Path) -> None:
    cache = DefinitionCache(root, size=1)
    cache.load("baugb-3-2")
    cache.load("baugb-4-2")
    cache.load("baugb-3-2")
    assert (cache.misses, cache.hits) == (3, 0)


async def test_the_activity_answers_from_the_process_cache() -> None:
    env = ActivityEnvironment()
    CACHE.clear()
    first = await env.run(load_definition, c.LoadDefinitionInput(definition_id="baugb-3-2"))
    hits = CACHE.hits
    second = await env.run(load_definition, c.LoadDefinitionInput(definition_id="baugb-3-2"))
    assert CACHE.hits == hits + 1
    assert second == first
    assert first.content_hash == loader.load_definition("baugb-3-2").content_hash


async def test_the_activity_refuses_an_unknown_definition_without_retry() -> None:
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as caught:
        await env.run(load_definition, c.LoadDefinitionInput(definition_id="no-such-procedure"))
    assert caught.value.type == "DefinitionNotFound"
    assert caught.value.non_retryable
