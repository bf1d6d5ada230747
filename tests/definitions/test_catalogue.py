"""Every catalogue definition loads, validates semantically and hashes stably."""

from __future__ import annotations

import pytest

from definitions import loader, schema, validate

CATALOGUE = [d.definition.id for d in loader.list_definitions()]


def test_catalogue_is_not_empty() -> None:
    assert "baugb-3-2" in CATALOGUE


@pytest.mark.parametrize("definition_id", CATALOGUE)
def test_definition_loads_and_round_trips(definition_id: str) -> None:
    loaded = loader.load_definition(definition_id)
    assert validate.check(loaded.definition, loaded.source_map) == []
    dumped = loaded.definition.model_dump(mode="json")
    again = schema.Definition.model_validate(dumped)
    assert loader.content_hash(again) == loaded.content_hash
    assert len(loaded.content_hash) == 64


@pytest.mark.parametrize("definition_id", CATALOGUE)
def test_yaml_language_server_line(definition_id: str) -> None:
    source = loader.catalogue_root().joinpath(f"{definition_id}.yaml").read_text("utf-8")
    assert source.splitlines()[0] == "# yaml-language-server: $schema=../definition.schema.json"


def test_unknown_definition_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="no definition nope"):
        loader.load_definition("nope")
    with pytest.raises(LookupError, match=r"version 9\.9"):
        loader.load_definition("baugb-3-2", "9.9")
