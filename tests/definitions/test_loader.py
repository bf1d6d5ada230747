"""Loader: versions in a catalogue folder, content hash, file naming, safe loading."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from definitions import loader
from definitions.problems import DefinitionError

SOURCE = loader.catalogue_root().joinpath("baugb-3-2.yaml").read_text("utf-8")


def write_version(folder: Path, version: str, *, name: str | None = None) -> Path:
    path = folder / (name or f"baugb-3-2@{version}.yaml")
    path.write_text(SOURCE.replace('version: "1.0.0"', f'version: "{version}"'), "utf-8")
    return path


def test_newest_version_wins_and_exact_version_loads(tmp_path: Path) -> None:
    for version in ("1.0.0", "1.2", "1.10.0"):
        write_version(tmp_path, version)
    assert loader.load_definition("baugb-3-2", root=tmp_path).definition.version == "1.10.0"
    assert loader.load_definition("baugb-3-2", "1.2", root=tmp_path).definition.version == "1.2"
    listed = [d.definition.version for d in loader.list_definitions(root=tmp_path)]
    assert listed == ["1.0.0", "1.2", "1.10.0"]


def test_file_name_must_match_id(tmp_path: Path) -> None:
    write_version(tmp_path, "2.0", name="other.yaml")
    with pytest.raises(DefinitionError, match=r"file name must be baugb-3-2\.yaml"):
        loader.list_definitions(root=tmp_path)


def test_hash_ignores_comments_and_layout_but_not_content() -> None:
    original = loader.load_text(SOURCE, "a.yaml").content_hash
    reformatted = SOURCE.replace("# Source:", "# Quelle:").replace(
        "  - {template: announcement, audience: public, when: on_start}",
        "  - template: announcement\n        audience: public\n        when: on_start",
    )
    assert reformatted != SOURCE
    assert loader.load_text(reformatted, "b.yaml").content_hash == original
    changed = SOURCE.replace("days_before: 7", "days_before: 8")
    assert loader.load_text(changed, "c.yaml").content_hash != original


def test_hash_is_sha256_of_canonical_json() -> None:
    loaded = loader.load_text(SOURCE, "a.yaml")
    canonical = json.dumps(
        loaded.definition.model_dump(mode="json"),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert loaded.content_hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_positions_are_kept_for_later_checks() -> None:
    loaded = loader.load_text(SOURCE, "a.yaml")
    position = loaded.source_map.of(("phases", 1, "period", "duration"))
    assert position is not None
    assert "duration: ${hearing_period}" in (loaded.source_map.line_text(position.line) or "")


def test_merge_keys_and_few_aliases_are_fine() -> None:
    text = SOURCE.replace(
        "    title: {de: Planungsamt, en: Planning office}",
        "    title: &office {de: Planungsamt, en: Planning office}",
    ).replace("    title: {de: Verwaltung, en: Administration}", "    title: *office")
    loaded = loader.load_text(text, "a.yaml")
    assert loaded.definition.audiences[2].title.de == "Planungsamt"
