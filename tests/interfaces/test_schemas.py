"""The committed JSON Schemas are exactly what the models generate, and they are valid."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from typer.testing import CliRunner

from tests.interfaces.docs import ROOT, start_examples
from worker.cli import app
from worker.commands.schema import INDEX_FILE, SCHEMA_VERSION, message_schemas, render

COMMITTED = ROOT / "schemas" / "v1"


def test_committed_schemas_match_the_models() -> None:
    generated = message_schemas()
    on_disk = {p.name for p in COMMITTED.iterdir()}
    assert on_disk == set(generated), "run: civicflow schema messages --out schemas/v1"
    for name, document in generated.items():
        committed = (COMMITTED / name).read_text(encoding="utf-8")
        assert committed == render(document), (
            f"schemas/v1/{name} drifted from the models; "
            "run: civicflow schema messages --out schemas/v1"
        )


def test_every_schema_is_draft_2020_12_with_id_and_version() -> None:
    for name, document in message_schemas().items():
        assert document["$id"].startswith("urn:civicflow:schema:v1:")
        assert document["x-civicflow-version"] == SCHEMA_VERSION
        if name != INDEX_FILE:
            assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
            jsonschema.Draft202012Validator.check_schema(document)


def test_index_names_existing_schemas() -> None:
    schemas = message_schemas()
    index = schemas[INDEX_FILE]
    names = [index["start"]["input"], index["start"]["result"], index["events"]["envelope"]]
    for group in ("updates", "signals", "queries"):
        for spec in index[group].values():
            names += [v for k, v in spec.items() if k in ("input", "result")]
    for name in names:
        assert f"{name}.schema.json" in schemas, name


def test_examples_validate_against_the_start_schema() -> None:
    schema = json.loads((COMMITTED / "StartProcedure.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for data in start_examples().values():
        validator.validate(data)
    errors = list(validator.iter_errors({**data, "bogus": 1}))
    assert errors, "unknown fields must be refused by the schema too"


def test_cli_writes_and_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "s"
    result = runner.invoke(app, ["schema", "messages", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == set(message_schemas())
    assert runner.invoke(app, ["schema", "messages", "--out", str(out), "--check"]).exit_code == 0
    (out / "Receipt.schema.json").write_text("{}", encoding="utf-8")
    stale = runner.invoke(app, ["schema", "messages", "--out", str(out), "--check"])
    assert stale.exit_code == 1
    assert "Receipt.schema.json" in stale.output
