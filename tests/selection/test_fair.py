"""MAXIMIN and LEXIMIN against brute force over all panels of tiny pools."""

from __future__ import annotations

import numpy as np
import pytest

from activities.selection.fair import leximin, maximin
from activities.selection.instance import build_instance
from activities.selection.model import Person, Quotas
from activities.selection.relaxed import relaxed_leximin
from tests.selection.helpers import all_panels, brute_leximin, brute_maximin, people, quotas

EXACT = 1e-8  # tiny instances: ask for the exact optimum, not the default 0.1 % gap


def _two_feature_pool() -> tuple[list[Person], Quotas]:
    rows = [
        {"g": "f", "a": "young"},
        {"g": "f", "a": "old"},
        {"g": "f", "a": "old"},
        {"g": "m", "a": "old"},
        {"g": "m", "a": "old"},
        {"g": "m", "a": "old"},
        {"g": "m", "a": "young"},
        {"g": "d", "a": "old"},
    ]
    spec = {
        "g": {"f": (1, 2), "m": (1, 2), "d": (0, 1)},
        "a": {"young": (1, 2), "old": (1, 3)},
    }
    return people(rows), quotas(spec)


def test_hand_checked_example() -> None:
    # one person is the only one of a required category: always on the panel; the other
    # seat is shared by three people, 1/3 each; leximin and maximin agree here
    pool = people([{"g": "a"}, {"g": "b"}, {"g": "b"}, {"g": "b"}])
    inst = build_instance(pool, quotas({"g": {"a": (1, 1), "b": (0, 2)}}), 2, households=False)
    for solve in (leximin, maximin):
        probs = inst.person_probabilities(solve(inst, tolerance=EXACT).type_probs)
        assert probs == pytest.approx([1.0, 1 / 3, 1 / 3, 1 / 3], abs=1e-7)


@pytest.mark.parametrize("k", [3, 4])
def test_maximin_and_leximin_match_brute_force(k: int) -> None:
    pool, quota = _two_feature_pool()
    inst = build_instance(pool, quota, k, households=False)
    panels = all_panels(inst)
    expected = brute_leximin(panels)
    lex = inst.person_probabilities(leximin(inst, tolerance=EXACT).type_probs)
    assert lex == pytest.approx(expected, abs=1e-6)
    maxi = inst.person_probabilities(maximin(inst, tolerance=EXACT).type_probs)
    assert maxi.min() == pytest.approx(brute_maximin(panels), abs=1e-6)


def test_leximin_with_households_matches_brute_force() -> None:
    pool, quota = _two_feature_pool()
    homes = ["h1", "h1", "h2", "h3", "h3", "h4", "h5", "h6"]
    with_homes = people([p.features for p in pool], homes)
    inst = build_instance(with_homes, quota, 3, households=True)
    panels = all_panels(inst)
    lex = inst.person_probabilities(leximin(inst, tolerance=EXACT).type_probs)
    assert lex == pytest.approx(brute_leximin(panels), abs=1e-6)


@pytest.mark.parametrize("solve", [leximin, maximin])
def test_probabilities_sum_to_k_and_weights_to_one(solve) -> None:  # type: ignore[no-untyped-def]
    pool, quota = _two_feature_pool()
    inst = build_instance(pool, quota, 4, households=False)
    dist = solve(inst)
    assert dist.weights.sum() == pytest.approx(1.0)
    assert inst.person_probabilities(dist.type_probs).sum() == pytest.approx(4.0)
    counts = dist.panels @ inst.cat_matrix.T
    assert np.all(counts >= inst.lo)
    assert np.all(counts <= inst.hi)
    assert np.all(dist.panels.sum(axis=1) == 4)


def test_people_no_panel_can_hold_get_zero_and_do_not_drag_maximin_down() -> None:
    # category "x" has max 0: its one member can never be selected
    pool = people([{"g": "x"}, {"g": "y"}, {"g": "y"}, {"g": "y"}])
    inst = build_instance(pool, quotas({"g": {"x": (0, 0), "y": (0, 3)}}), 1, households=False)
    probs = inst.person_probabilities(maximin(inst, tolerance=EXACT).type_probs)
    assert probs == pytest.approx([0.0, 1 / 3, 1 / 3, 1 / 3], abs=1e-7)


def test_leximin_time_limit_still_gives_a_maximin_distribution() -> None:
    pool, quota = _two_feature_pool()
    inst = build_instance(pool, quota, 3, households=False)
    dist = leximin(inst, tolerance=EXACT, time_limit=1e-9, exact=True)
    assert not dist.complete
    assert dist.rounds == 1  # the first level always completes, then the deadline holds
    probs = inst.person_probabilities(dist.type_probs)
    assert probs.min() == pytest.approx(brute_maximin(all_panels(inst)), abs=1e-6)
    assert probs.sum() == pytest.approx(3.0)


@pytest.mark.parametrize("seed", range(12))
def test_relaxation_shortcut_and_exact_levels_both_match_brute_force(seed: int) -> None:
    """Three features can give the quota polytope fractional corners (an integrality gap):
    whether the shortcut reaches the relaxed profile or falls back, the result is leximin."""
    rng = np.random.default_rng(seed)
    rows = [
        {"g": str(rng.integers(2)), "h": str(rng.integers(2)), "i": str(rng.integers(2))}
        for _ in range(7)
    ]
    spec = {f: {"0": (1, 2), "1": (1, 2)} for f in ("g", "h", "i")}
    inst = build_instance(people(rows), quotas(spec), 3, households=False)
    panels = all_panels(inst)
    if len(panels) == 0:
        pytest.skip("no panel meets these quotas")
    expected = brute_leximin(panels)
    for exact in (False, True):
        dist = leximin(inst, tolerance=EXACT, exact=exact)
        assert dist.complete
        probs = inst.person_probabilities(dist.type_probs)
        assert probs == pytest.approx(expected, abs=1e-6), f"exact={exact}"


def test_integrality_gap_falls_back_to_the_exact_levels() -> None:
    """Three people who pairwise share a category of max 1, and one more person, k = 2.

    The relaxation gives everyone 1/2 (half of each of the three, half of the fourth); no
    panel holds two of the three, so the real leximin is 1/3 each and 1 for the fourth.
    """
    rows = [
        {"a": "1", "b": "0", "c": "1"},
        {"a": "1", "b": "1", "c": "0"},
        {"a": "0", "b": "1", "c": "1"},
        {"a": "0", "b": "0", "c": "0"},
    ]
    spec = {f: {"0": (0, 2), "1": (0, 1)} for f in ("a", "b", "c")}
    inst = build_instance(people(rows), quotas(spec), 2, households=False)
    target, _ = relaxed_leximin(inst, np.zeros(inst.n_types, dtype=bool))
    assert inst.person_probabilities(target) == pytest.approx([0.5] * 4, abs=1e-7)
    dist = leximin(inst, tolerance=EXACT)
    probs = inst.person_probabilities(dist.type_probs)
    assert probs == pytest.approx([1 / 3, 1 / 3, 1 / 3, 1.0], abs=1e-6)
    assert probs == pytest.approx(brute_leximin(all_panels(inst)), abs=1e-6)
