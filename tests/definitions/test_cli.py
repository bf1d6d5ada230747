"""`civicflow definitions list | show | validate | schema` through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml
from typer.testing import CliRunner

from definitions import loader
from worker.cli import app

runner = CliRunner()
CATALOGUE = Path(str(loader.catalogue_root()))


def test_list_names_every_catalogue_definition() -> None:
    result = runner.invoke(app, ["definitions", "list"])
    assert result.exit_code == 0, result.output
    ids = {line.split("\t")[0] for line in result.stdout.splitlines()}
    assert {"baugb-3-1", "baugb-3-2", "baugb-4-2", "buergerrat"} <= ids
    assert {"quartiersdialog", "buergerhaushalt", "beteiligungsantrag"} <= ids


def test_show_prints_definition_with_hash() -> None:
    result = runner.invoke(app, ["definitions", "show", "baugb-3-2"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["definition"]["id"] == "baugb-3-2"
    assert document["content_hash"] == loader.load_definition("baugb-3-2").content_hash


def test_show_unknown_exits_1() -> None:
    result = runner.invoke(app, ["definitions", "show", "nope"])
    assert result.exit_code == 1
    assert "no definition nope" in result.stderr


def test_validate_catalogue_folder_ok() -> None:
    result = runner.invoke(app, ["definitions", "validate", str(CATALOGUE)])
    assert result.exit_code == 0, result.output
    assert result.stdout.count(": ok (") == len(loader.list_definitions())


def test_validate_reports_all_errors_of_all_files(tmp_path: Path) -> None:
    good = CATALOGUE / "baugb-3-2.yaml"
    text = good.read_text("utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("to: hearing", "to: hearng").replace("reminder", "remindr"))
    worse = tmp_path / "worse.yaml"
    worse.write_text(text.replace("duration: P1W", "duration: 1 month"))
    result = runner.invoke(app, ["definitions", "validate", str(good), str(bad), str(worse)])
    assert result.exit_code == 1
    assert f"{bad}:" in result.stderr
    assert "unknown phase 'hearng'" in result.stderr
    assert "template 'remindr' not found" in result.stderr
    assert "phases.announcement.period.duration: expected ISO-8601 duration" in result.stderr
    assert "2 of 3 files invalid" in result.stderr


def test_schema_output_validates_catalogue() -> None:
    result = runner.invoke(app, ["definitions", "schema"])
    assert result.exit_code == 0, result.output
    validator = jsonschema.Draft202012Validator(json.loads(result.stdout))
    for path in sorted(CATALOGUE.glob("*.yaml")):
        data = yaml.safe_load(path.read_text("utf-8"))
        assert [e.message for e in validator.iter_errors(data)] == [], path.name


def test_schema_of_start_input() -> None:
    result = runner.invoke(app, ["definitions", "schema", "--start-input"])
    assert result.exit_code == 0, result.output
    assert "definition_id" in json.loads(result.stdout)["properties"]


def test_validate_with_own_templates(tmp_path: Path) -> None:
    text = (CATALOGUE / "baugb-3-2.yaml").read_text("utf-8")
    own = tmp_path / "own.yaml"
    own.write_text(text.replace("template: reminder", "template: erinnerung_kurz"))
    result = runner.invoke(app, ["definitions", "validate", str(own)])
    assert result.exit_code == 1
    assert "template 'erinnerung_kurz' not found" in result.stderr
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "erinnerung_kurz.de.j2").write_text("Erinnerung")
    result = runner.invoke(app, ["definitions", "validate", "--templates", str(folder), str(own)])
    assert result.exit_code == 0, result.output
