"""The committed JSON Schema matches the model and accepts every catalogue file."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from definitions import export, loader


def catalogue_data() -> list[tuple[str, Any]]:
    entries = sorted(loader.catalogue_root().iterdir(), key=lambda e: e.name)
    return [
        (e.name, yaml.safe_load(e.read_text("utf-8"))) for e in entries if e.name.endswith(".yaml")
    ]


def test_committed_schema_matches_model() -> None:
    committed = export.SCHEMA_FILE.read_text("utf-8")
    assert committed == export.render(), "run `civicflow definitions schema --write`"


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(export.definition_json_schema())


@pytest.mark.parametrize(("name", "data"), catalogue_data())
def test_schema_accepts_catalogue_file(name: str, data: Any) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(export.render()))
    errors = [e.message for e in validator.iter_errors(data)]
    assert errors == [], name


def test_schema_rejects_bad_duration_and_unknown_field() -> None:
    validator = jsonschema.Draft202012Validator(export.definition_json_schema())
    _, data = catalogue_data()[0]
    assert validator.is_valid(data)
    data["phases"][0]["period"] = {"duration": "1 month"}
    assert not validator.is_valid(data)
    data["phases"][0]["period"] = {"duration": "P1W"}
    data["colour"] = "red"
    messages = " ".join(e.message for e in validator.iter_errors(data))
    assert "colour" in messages
