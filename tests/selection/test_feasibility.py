"""Infeasible quotas are refused with an explanation that names the conflicting quotas."""

from __future__ import annotations

import pytest

from activities.selection.feasibility import InfeasibleQuotasError, check_feasibility
from activities.selection.instance import build_instance
from activities.selection.select import select_panel
from tests.selection.helpers import people, quotas

ROWS = [
    {"g": "f", "a": "young"},
    {"g": "f", "a": "old"},
    {"g": "m", "a": "old"},
    {"g": "m", "a": "old"},
    {"g": "m", "a": "young"},
    {"g": "m", "a": "old"},
]


def test_mins_above_k_are_named() -> None:
    spec = {"g": {"f": (2, 2), "m": (3, 4)}, "a": {"young": (0, 2), "old": (0, 4)}}
    report = check_feasibility(build_instance(people(ROWS), quotas(spec), 4, households=False))
    assert not report.feasible
    assert any("feature 'g': the mins add up to 5, more than k=4" in p for p in report.problems)


def test_min_above_available_is_named() -> None:
    spec = {"g": {"f": (3, 3), "m": (0, 4)}, "a": {"young": (0, 4), "old": (0, 4)}}
    report = check_feasibility(build_instance(people(ROWS), quotas(spec), 4, households=False))
    assert "g=f: min 3 but only 2 people in the pool" in report.problems


def test_interacting_quotas_get_a_minimal_conflicting_set_and_a_relaxation() -> None:
    # each feature is fine on paper, together not: two young people are needed, there are
    # two (a woman and a man), but women are capped at 0
    rows = [*ROWS, {"g": "d", "a": "old"}]
    spec = {
        "g": {"f": (0, 0), "m": (0, 4), "d": (0, 1)},
        "a": {"young": (2, 2), "old": (0, 4)},
    }
    inst = build_instance(people(rows), quotas(spec), 4, households=False)
    report = check_feasibility(inst)
    assert not report.feasible
    assert report.problems == ["no combination of 4 people meets all quotas at once"]
    assert report.conflicting == ["g=f max 0", "a=young min 2"]
    assert len(report.relaxation) == 1  # one bound moved by one makes a panel possible
    assert report.relaxation[0] in ("g=f: max 0 -> 1", "a=young: min 2 -> 1")
    message = report.explain()
    assert "minimal conflicting set" in message
    assert "- a=young min 2" in message


def test_select_panel_raises_with_explanation() -> None:
    spec = {"g": {"f": (2, 2), "m": (3, 4)}, "a": {"young": (0, 2), "old": (0, 4)}}
    with pytest.raises(InfeasibleQuotasError, match="mins add up to 5"):
        select_panel(people(ROWS), quotas(spec), 4, "seed")


def test_too_few_households() -> None:
    homes = ["h1", "h1", "h1", "h2", "h2", "h2"]
    spec = {"g": {"f": (0, 4), "m": (0, 4)}, "a": {"young": (0, 4), "old": (0, 4)}}
    inst = build_instance(people(ROWS, homes), quotas(spec), 3, households=True)
    report = check_feasibility(inst)
    assert report.problems == [
        "panel size k=3 but the pool has only 2 households (at most one person per household)"
    ]


def test_feasible_quotas() -> None:
    spec = {"g": {"f": (1, 2), "m": (1, 3)}, "a": {"young": (1, 2), "old": (1, 3)}}
    inst = build_instance(people(ROWS), quotas(spec), 4, households=False)
    assert check_feasibility(inst).feasible
