"""JSON Schema of the definition format, for editors and for a municipality's own CI.

`definition_json_schema()` is generated from `definitions.schema.Definition`; the committed
copy `definitions/definition.schema.json` (`SCHEMA_FILE`) is what catalogue files point at with
`# yaml-language-server: $schema=../definition.schema.json`. A test keeps both equal;
`civicflow definitions schema --write` regenerates the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from definitions.schema import Definition

__all__ = ["SCHEMA_FILE", "SCHEMA_ID", "definition_json_schema", "render"]

SCHEMA_FILE: Final = Path(__file__).with_name("definition.schema.json")
SCHEMA_ID: Final = "https://civicflow.example/schemas/definition.schema.json"


def definition_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a procedure definition file."""
    schema = Definition.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def render() -> str:
    """The schema as the committed file holds it: 2-space indent, sorted keys, final newline."""
    return json.dumps(definition_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
