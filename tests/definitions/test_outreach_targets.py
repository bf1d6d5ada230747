"""Outreach targets in definitions: inline or from a CSV, every problem with its position."""

from __future__ import annotations

from pathlib import Path

import pytest

from definitions import loader
from definitions.outreach import Outreach, TargetsCsvError, parse_targets_csv
from definitions.problems import DefinitionError
from definitions.schema import InvitationPhase

BASE = """\
id: outreach-test
version: "1.0.0"
kind: test
title: {de: Test, en: Test}
parameters:
  - {name: letters, type: integer, default: 500}
  - {name: extract, type: string, default: register.csv}
roles:
  - id: moderator
    title: {de: Moderation, en: Facilitation}
audiences:
  - id: invited
    title: {de: Eingeladene, en: Invited}
    kind: panel
phases:
  - id: lottery
    type: invitation
    title: {de: Einladung, en: Invitation}
    audiences: [invited]
    settings:
      selection: stratified_lottery
      strata: [age, milieu]
      outreach:
OUTREACH
    period:
      duration: P3W
    accepts:
      registrations: true
"""

INLINE = """\
        targets:
          age: {young: 0.4, old: 0.6}
        check_after: P7D
        second_wave: {letters: "${letters}", register_extract: "${extract}"}
"""


def definition(outreach: str, **replace: str) -> str:
    text = BASE.replace("OUTREACH\n", outreach)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def problems(
    text: str, tmp_path: Path | None = None, files: dict[str, str] | None = None
) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        load(text, tmp_path, files)
    return [p.format().splitlines()[0] for p in info.value.problems]


def load(
    text: str, tmp_path: Path | None, files: dict[str, str] | None = None
) -> loader.LoadedDefinition:
    if tmp_path is None:
        return loader.load_text(text, "outreach-test.yaml")
    for name, content in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    path = tmp_path / "outreach-test.yaml"
    path.write_text(text, encoding="utf-8")
    return loader.load_file(path)


def outreach_of(loaded: loader.LoadedDefinition) -> Outreach | None:
    phase = loaded.definition.phases[0]
    assert isinstance(phase, InvitationPhase)
    return phase.settings.outreach


def test_inline_targets_load() -> None:
    loaded = load(definition(INLINE), None)
    outreach = outreach_of(loaded)
    assert outreach is not None
    assert outreach.targets == {"age": {"young": 0.4, "old": 0.6}}


def test_csv_targets_are_inlined_into_the_pinned_snapshot(tmp_path: Path) -> None:
    csv_text = (
        "# source: statistics office 2025\nfeature,category,share\nage,young,40%\nage,old,0.6\n"
    )
    text = definition("        targets_csv: data/targets.csv\n")
    loaded = load(text, tmp_path, {"data/targets.csv": csv_text})
    dumped = loaded.definition.model_dump(mode="json")
    outreach = dumped["phases"][0]["settings"]["outreach"]
    assert outreach["targets"] == {"age": {"young": 0.4, "old": 0.6}}
    assert outreach["targets_csv"] == "data/targets.csv"
    changed = load(
        text, tmp_path, {"data/targets.csv": csv_text.replace("40%", "0.5").replace("0.6", "0.5")}
    )
    assert changed.content_hash != loaded.content_hash  # the numbers, not the name, are pinned


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        ("feature,group,share\n", "targets.csv:1:1: header: expected feature,category,share"),
        ("feature,category,share\nage,young,lots\nage,old,0.6\n", "targets.csv:2:11: share 'lots'"),
        (
            "feature,category,share\nage,young,0.4\nage,young,0.6\n",
            "targets.csv:3:5: age=young is listed twice",
        ),
        (
            "feature,category,share\nage,young,0.4\nage,old,0.5\n",
            "targets.csv:2:1: feature age: shares add up to 0.900",
        ),
        ("feature,category,share\nAge,young,1\n", "targets.csv:2:1: feature 'Age'"),
        ("feature,category,share\nage,young\n", "targets.csv:2:1: expected 3 columns"),
    ],
)
def test_csv_problems_name_file_line_and_column(
    tmp_path: Path, csv_text: str, expected: str
) -> None:
    text = definition("        targets_csv: targets.csv\n")
    found = problems(text, tmp_path, {"targets.csv": csv_text})
    assert found[0].startswith(f"{tmp_path}/{expected}"), found


def test_csv_reference_problems_point_at_the_yaml_line(tmp_path: Path) -> None:
    both = definition("        targets_csv: t.csv\n        targets: {age: {young: 1}}\n")
    assert problems(both, tmp_path, {"t.csv": "feature,category,share\nage,young,1\n"}) == [
        f"{tmp_path}/outreach-test.yaml:24:9: phases.lottery.settings.outreach.targets_csv: "
        "give targets or targets_csv, not both"
    ]
    missing = problems(definition("        targets_csv: nowhere.csv\n"), tmp_path)
    assert "outreach-test.yaml:24:9:" in missing[0]
    assert "cannot read nowhere.csv" in missing[0]
    escape = problems(definition("        targets_csv: ../secret.csv\n"), tmp_path)
    assert "outreach-test.yaml:24:9: phases.lottery.settings.outreach.targets_csv" in escape[0]
    no_folder = problems(definition("        targets_csv: t.csv\n"))
    assert "targets_csv needs the definition's folder" in no_folder[0]


@pytest.mark.parametrize(
    ("outreach", "replace", "expected"),
    [
        (
            "        targets: {age: {young: 0.4, old: 0.4}}\n",
            {},
            "outreach-test.yaml:23:7: phases.lottery.settings.outreach: targets.age: "
            "shares add up to 0.800, expected 1",
        ),
        (
            "        targets: {income: {low: 0.5, high: 0.5}}\n",
            {},
            "phases.lottery.settings.outreach.targets.income: feature 'income' is not one of "
            "the phase's strata (age, milieu)",
        ),
        (
            "        targets: {age: {young: 1.0}}\n        check_after: P4W\n",
            {},
            "phases.lottery.settings.outreach.check_after: check_after P4W is not within the "
            "period",
        ),
        (
            INLINE,
            {"registrations: true": "registrations: false"},
            "phases.lottery.settings.outreach: outreach compares registrations",
        ),
        (
            INLINE,
            {"type: integer, default: 500": "type: string, default: x"},
            "phases.lottery.settings.outreach.second_wave.letters: parameter 'letters' is of type "
            "string, expected integer",
        ),
        (
            "        targets: {age: {young: 1.0}}\n        ratio: 1.5\n",
            {},
            "phases.lottery.settings.outreach.ratio:",
        ),
    ],
)
def test_invalid_outreach(outreach: str, replace: dict[str, str], expected: str) -> None:
    found = problems(definition(outreach, **replace))
    assert any(expected in p for p in found), found


def test_parse_targets_csv_accepts_percentages_and_comments() -> None:
    assert parse_targets_csv("feature,category,share\n\n# c\nm,a,25 %\nm,b,75%\n") == {
        "m": {"a": 0.25, "b": 0.75}
    }
    with pytest.raises(TargetsCsvError) as info:
        parse_targets_csv("")
    assert info.value.line == 1


def test_catalogue_entries_use_outreach() -> None:
    buergerrat = outreach_of(loader.load_definition("buergerrat"))
    assert buergerrat is not None
    assert buergerrat.second_wave is not None
    quartier = outreach_of(loader.load_definition("quartiersdialog"))
    assert quartier is not None
    assert "milieu" in quartier.targets
    assert quartier.targets_csv == "data/quartiersdialog-targets.csv"
