"""Invalid definitions: each gives the expected message at the expected line and column.

Every case edits one valid base file (`BASE`) and checks the first reported problem's
`file:line:col: dotted.path: message`. The loader reports all problems at once; the last tests
check several problems in one file and the size/alias limits.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from definitions import loader
from definitions.problems import DefinitionError

BASE = """\
id: test-procedure
version: "1.0.0"
kind: test
title: {de: Test, en: Test}
legal_basis:
  - {law: BauGB, section: "§3(2)"}
parameters:
  - name: hearing_period
    type: duration
    default: one_month_min_30_days
roles:
  - id: administration
    title: {de: Verwaltung, en: Administration}
audiences:
  - id: public
    title: {de: Öffentlichkeit, en: Public}
    kind: public
  - id: affected
    title: {de: Betroffene, en: Affected}
    kind: affected
phases:
  - id: announcement
    type: invitation
    title: {de: Bekanntmachung, en: Announcement}
    settings: {selection: public}
    period: {duration: P1W, apply_193: false}
    notifications:
      - {template: announcement, audience: public, when: on_start}
  - id: hearing
    type: hearing
    title: {de: Auslegung, en: Publication}
    period:
      duration: ${hearing_period}
      counting: from_day
    accepts: {statement_types: [objection]}
    notifications:
      - {template: reminder, audience: public, when: before_end, days_before: 7}
  - id: weighing
    type: deliberation
    title: {de: Abwägung, en: Weighing}
    ends_when: [{kind: moderator_decision}]
    transitions:
      - {when: draft_changed, to: hearing, round: next, limited_to: affected}
      - {to: end}
"""

# (name, [(old, new), ...], line, column, dotted path, message fragment)
CASES: list[tuple[str, list[tuple[str, str]], int, int, str, str]] = [
    (
        "bad_duration",
        [("duration: P1W,", "duration: 1 week,")],
        26,
        14,
        "phases.announcement.period.duration",
        "expected ISO-8601 duration (P14D, P2W, P1M), working days",
    ),
    (
        "unknown_field",
        [("kind: test\n", "kind: test\ncolour: red\n")],
        4,
        1,
        "colour",
        "unknown field",
    ),
    ("missing_version", [('version: "1.0.0"\n', "")], 1, 1, "version", "required field is missing"),
    (
        "version_not_string",
        [('version: "1.0.0"', "version: 1.0")],
        2,
        1,
        "version",
        "Input should be a valid string, got 1.0",
    ),
    (
        "unknown_phase_type",
        [("type: deliberation", "type: debate")],
        39,
        5,
        "phases.weighing.type",
        "expected one of 'invitation', 'hearing'",
    ),
    (
        "unknown_target",
        [("to: hearing,", "to: hearng,")],
        43,
        31,
        "phases.weighing.transitions.0.to",
        "unknown phase 'hearng'",
    ),
    (
        "unknown_audience",
        [("audience: public, when: before_end", "audience: citizens, when: before_end")],
        37,
        30,
        "phases.hearing.notifications.0.audience",
        "audience 'citizens' is not defined",
    ),
    (
        "template_missing",
        [("template: reminder", "template: remindr")],
        37,
        10,
        "phases.hearing.notifications.0.template",
        "template 'remindr' not found",
    ),
    (
        "limited_to_unknown",
        [("limited_to: affected", "limited_to: neighbours")],
        43,
        57,
        "phases.weighing.transitions.0.limited_to",
        "audience 'neighbours' is not defined",
    ),
    (
        "param_not_declared",
        [("${hearing_period}", "${hearing_time}")],
        33,
        7,
        "phases.hearing.period.duration",
        "parameter 'hearing_time' is used but not declared",
    ),
    (
        "legal_minimum",
        [("default: one_month_min_30_days", "default: P14D")],
        33,
        7,
        "phases.hearing.period.duration",
        "shorter than the legal minimum of 30 days (BauGB §3(2))",
    ),
    (
        "unreachable",
        [
            (
                "      - {to: end}\n",
                "      - {to: end}\n  - id: orphan\n    type: review\n"
                "    title: {de: X, en: X}\n    ends_when: [{kind: moderator_decision}]\n",
            )
        ],
        45,
        5,
        "phases.orphan.id",
        "unreachable phase: no path from 'announcement'",
    ),
    (
        "loop_no_exit",
        [
            ("to: hearing, round: next, limited_to: affected", "to: limbo"),
            (
                "      - {to: end}\n",
                "      - {to: end}\n  - id: limbo\n    type: deliberation\n"
                "    title: {de: X, en: X}\n    ends_when: [{kind: moderator_decision}]\n"
                "    transitions: [{to: limbo}]\n",
            ),
        ],
        45,
        5,
        "phases.limbo.id",
        "loop with no exit",
    ),
    (
        "missing_end",
        [("{to: end}", "{to: announcement}")],
        21,
        1,
        "phases",
        "missing end: no path from 'announcement' reaches the end",
    ),
    (
        "missing_start",
        [("kind: test\n", "kind: test\nstart_phase: nowhere\n")],
        4,
        1,
        "start_phase",
        "missing start: start phase 'nowhere' is not a phase",
    ),
    (
        "duplicate_phase",
        [("  - id: weighing", "  - id: hearing")],
        21,
        1,
        "phases",
        "phase ids must be unique, repeated: hearing",
    ),
    (
        "duplicate_key",
        [("kind: test\n", "kind: test\nkind: other\n")],
        4,
        1,
        "kind",
        "duplicate key",
    ),
    (
        "days_before_missing",
        [(", when: before_end, days_before: 7}", ", when: before_end}")],
        37,
        9,
        "phases.hearing.notifications.0",
        "days_before is required with when: before_end",
    ),
    (
        "decision_not_option",
        [("      - {to: end}", "      - {when: decision, decision: approve, to: end}")],
        44,
        26,
        "phases.weighing.transitions.1.decision",
        "decision 'approve' is not one of",
    ),
    (
        "quorum_condition",
        [("when: draft_changed", "when: quorum_reached")],
        43,
        10,
        "phases.weighing.transitions.0.when",
        "quorum_reached needs a quorum in ends_when",
    ),
    (
        "deadline_without_period",
        [("    period:\n      duration: ${hearing_period}\n      counting: from_day\n", "")],
        29,
        5,
        "phases.hearing",
        "ends_when contains deadline, so the phase needs a period",
    ),
    (
        "param_default_type",
        [("default: one_month_min_30_days", "default: 30")],
        8,
        5,
        "parameters.hearing_period",
        "parameter hearing_period: expected duration, got 30",
    ),
    (
        "param_type_mismatch",
        [
            (
                "    default: one_month_min_30_days\n",
                "    default: one_month_min_30_days\n"
                "  - {name: rounds, type: integer, default: 3}\n",
            ),
            ("duration: ${hearing_period}", "duration: ${rounds}"),
        ],
        34,
        7,
        "phases.hearing.period.duration",
        "parameter 'rounds' is of type integer, expected duration",
    ),
    (
        "undefined_role",
        [("    kind: public\n", "    kind: role\n    roles: [mayor]\n")],
        18,
        13,
        "audiences.public.roles.0",
        "role 'mayor' is not defined",
    ),
    (
        "yaml_syntax",
        [("title: {de: Test, en: Test}", "title: {de: Test, en: Test")],
        5,
        12,
        "",
        "invalid YAML: while parsing a flow mapping",
    ),
    (
        "python_tag",
        [("kind: test", "kind: !!python/object/apply:os.system [echo]")],
        3,
        7,
        "",
        "could not determine a constructor for the tag",
    ),
    (
        "unknown_end_kind",
        [("[{kind: moderator_decision}]", "[{kind: vote_of_council}]")],
        41,
        18,
        "phases.weighing.ends_when.0.kind",
        "expected one of 'deadline', 'quorum'",
    ),
    (
        "after_always",
        [("      - {to: end}", "      - {to: end}\n      - {when: draft_changed, to: hearing}")],
        45,
        9,
        "phases.weighing.transitions.2",
        "never taken: an earlier transition has when: always",
    ),
    (
        "cycles_outside_review",
        [("when: draft_changed", "when: cycles_remaining")],
        43,
        10,
        "phases.weighing.transitions.0.when",
        "cycles_remaining can only hold in a review phase",
    ),
    (
        "reminder_outside_period",
        [("when: before_end, days_before: 7", "when: before_end, days_before: 40")],
        37,
        66,
        "phases.hearing.notifications.0.days_before",
        "40 days before the end is not within the period",
    ),
    (
        "authorities_audience_kind",
        [
            (
                "ends_when: [{kind: moderator_decision}]",
                "ends_when: [{kind: all_authorities_answered, audience: public}]",
            )
        ],
        41,
        50,
        "phases.weighing.ends_when.0.audience",
        "audience 'public' is public, expected authorities",
    ),
    (
        "misspelt_field",
        [("      counting: from_day", "      countng: from_day")],
        34,
        7,
        "phases.hearing.period.countng",
        "unknown field; did you mean 'counting'?",
    ),
    (
        "number_for_text",
        [("title: {de: Test, en: Test}", "title: {de: Test, en: 2024}")],
        4,
        19,
        "title.en",
        "got 2024 (YAML read it as a number or yes/no: put it in quotes)",
    ),
    (
        "missing_title_en",
        [("title: {de: Auslegung, en: Publication}", "title: {de: Auslegung}")],
        31,
        5,
        "phases.hearing.title.en",
        "required field is missing",
    ),
]


@pytest.fixture(params=["libyaml", "pure-python"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both PyYAML safe loaders must report the same positions."""
    if request.param == "pure-python":
        monkeypatch.setattr(loader, "_SAFE_LOADER", yaml.SafeLoader)
    return str(request.param)


def edit(edits: list[tuple[str, str]]) -> str:
    text = BASE
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_base_is_valid() -> None:
    loaded = loader.load_text(BASE, "t.yaml")
    assert loaded.definition.id == "test-procedure"


@pytest.mark.parametrize(
    ("edits", "line", "column", "path", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_invalid_definition(
    edits: list[tuple[str, str]],
    line: int,
    column: int,
    path: str,
    fragment: str,
    yaml_loader: str,
) -> None:
    with pytest.raises(DefinitionError) as info:
        loader.load_text(edit(edits), "t.yaml")
    first = info.value.problems[0]
    assert first.position is not None
    assert (first.position.line, first.position.column, first.path) == (line, column, path)
    assert fragment in first.message
    rendered = first.format()
    where = f"t.yaml:{line}:{column}: {path + ': ' if path else ''}"
    assert rendered.startswith(where)
    caret_line = rendered.splitlines()[2]
    assert caret_line.index("^") - caret_line.index("|") - 2 == column - 1


def test_at_least_twenty_distinct_cases() -> None:
    assert len({case[0] for case in CASES}) >= 20
    assert len({case[5] for case in CASES}) >= 20


def test_all_semantic_problems_at_once() -> None:
    text = edit(
        [
            ("to: hearing,", "to: hearng,"),
            ("template: reminder", "template: remindr"),
            ("limited_to: affected", "limited_to: neighbours"),
            ("default: one_month_min_30_days", "default: P14D"),
        ]
    )
    with pytest.raises(DefinitionError) as info:
        loader.load_text(text, "t.yaml")
    lines = [(p.position.line if p.position else 0, p.message[:20]) for p in info.value.problems]
    assert len(lines) == 4
    assert [line for line, _ in lines] == [33, 37, 43, 43]  # sorted by position
    assert str(info.value).startswith("4 problems in definition")


def test_all_schema_problems_at_once() -> None:
    text = edit(
        [
            ("duration: P1W,", "duration: 1 week,"),
            ("kind: test\n", "kind: test\ncolour: red\n"),
            ("type: deliberation", "type: debate"),
        ]
    )
    with pytest.raises(DefinitionError) as info:
        loader.load_text(text, "t.yaml")
    assert [p.path for p in info.value.problems] == [
        "colour",
        "phases.announcement.period.duration",
        "phases.weighing.type",
    ]


def test_yaml_bomb_is_refused() -> None:
    bomb = "a: &a [x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(20)
    )
    with pytest.raises(DefinitionError, match="YAML aliases: refused"):
        loader.load_text(bomb, "bomb.yaml")


def test_huge_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * loader.MAX_BYTES + "\n" + BASE)
    with pytest.raises(DefinitionError, match="larger than the limit"):
        loader.load_file(big)
    with pytest.raises(DefinitionError, match="more than the limit"):
        loader.load_text("# " + "x" * loader.MAX_BYTES, "big.yaml")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(DefinitionError, match="nesting deeper than"):
        loader.load_text("a: " + "[" * 100 + "]" * 100, "deep.yaml")


def test_not_a_mapping() -> None:
    with pytest.raises(DefinitionError, match="expected a mapping"):
        loader.load_text("- just\n- a list\n", "list.yaml")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: Bürger".encode("latin-1"))
    with pytest.raises(DefinitionError, match="not UTF-8"):
        loader.load_file(path)


def test_schema_and_semantic_problems_together() -> None:
    text = edit(
        [
            ("type: deliberation", "type: debate"),
            ("template: reminder", "template: remindr"),
            ("duration: P1W,", "duration: 1 week,"),
        ]
    )
    with pytest.raises(DefinitionError) as info:
        loader.load_text(text, "t.yaml")
    found = [(p.position.line if p.position else 0, p.path) for p in info.value.problems]
    assert found == [
        (26, "phases.announcement.period.duration"),
        (37, "phases.hearing.notifications.0.template"),
        (39, "phases.weighing.type"),
    ]
