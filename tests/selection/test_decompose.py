"""Decomposing expected counts into panels: the fast way to MAXIMIN and LEXIMIN."""

from __future__ import annotations

import random

import numpy as np
import pytest

from activities.selection.decompose import _attempt, _share, decompose
from activities.selection.fair import leximin, maximin
from activities.selection.instance import Instance, build_instance
from activities.selection.panels import best_panel
from activities.selection.relaxed import relaxed_leximin_counts
from tests.selection.helpers import all_panels, brute_leximin, people, quotas


def _instance(seed: int, n: int = 60, k: int = 12, *, households: bool = False) -> Instance:
    rng = random.Random(seed)
    rows = [
        {"g": rng.choice("fmd"), "a": rng.choice(["y", "m", "o"]), "e": rng.choice("lh")}
        for _ in range(n)
    ]
    homes = [f"h{rng.randrange(n // 2)}" for _ in range(n)] if households else None
    spec = {
        "g": {"f": (4, 7), "m": (4, 7), "d": (0, 2)},
        "a": {"y": (2, 5), "m": (3, 6), "o": (3, 6)},
        "e": {"l": (4, 8), "h": (4, 8)},
    }
    return build_instance(people(rows, homes), quotas(spec), k, households=households)


def _assert_panels(inst: Instance, panels: np.ndarray) -> None:
    assert np.all(panels.sum(axis=1) == inst.k)
    assert np.all(panels >= 0)
    assert np.all(panels <= inst.sizes)
    totals = panels @ inst.cat_matrix.T
    assert np.all(totals >= inst.lo)
    assert np.all(totals <= inst.hi)
    if inst.households:
        assert np.all(panels @ inst.household_rows.T <= 1)


@pytest.mark.parametrize(("seed", "households"), [(1, False), (2, False), (3, True)])
def test_the_relaxed_leximin_counts_come_apart_into_real_panels(
    seed: int, households: bool
) -> None:
    inst = _instance(seed, households=households)
    never = np.zeros(inst.n_types, dtype=bool)
    _, counts, _ = relaxed_leximin_counts(inst, never)
    # the relaxed counts are only as exact as the LP (~1e-8): ask for 1e-6
    found = decompose(inst, counts, goal=1.0 - 1e-6)
    panels = np.array(found.panels)
    _assert_panels(inst, panels)
    assert found.weights.sum() == pytest.approx(1.0)
    assert np.all(found.weights > 0)
    mixture = found.weights @ panels
    # the reported ratio is what the mixture really gives, and it reaches the goal
    wanted = counts > 1e-7
    assert found.ratio == pytest.approx(float((mixture[wanted] / counts[wanted]).min()))
    assert found.ratio >= 1.0 - 1e-6
    assert mixture == pytest.approx(counts, abs=1e-6)
    # Carathéodory: no more panels than the dimension allows
    assert len(found.panels) <= inst.n_types + 1


def test_a_known_mixture_is_recovered() -> None:
    inst = _instance(4)
    rng = np.random.default_rng(4)
    one = best_panel(inst, rng.random(inst.n_types))
    two = best_panel(inst, rng.random(inst.n_types))
    assert one is not None
    assert two is not None
    assert not np.array_equal(one, two)
    target = 0.3 * one + 0.7 * two
    found = decompose(inst, target.astype(np.float64), goal=1.0 - 1e-12)
    assert found.weights @ np.array(found.panels) == pytest.approx(target, abs=1e-9)
    assert found.ratio == pytest.approx(1.0, abs=1e-9)


def test_a_point_that_is_no_mixture_of_panels_is_reported_short() -> None:
    """Three people pairwise share a category of max 1 and k = 2: half of each of them
    and half of a fourth person satisfies every quota, but no panel holds two of the three,
    so no mixture of panels gives the three 1/2 each."""
    rows = [
        {"a": "1", "b": "0", "c": "1"},
        {"a": "1", "b": "1", "c": "0"},
        {"a": "0", "b": "1", "c": "1"},
        {"a": "0", "b": "0", "c": "0"},
    ]
    spec = {f: {"0": (0, 2), "1": (0, 1)} for f in ("a", "b", "c")}
    inst = build_instance(people(rows), quotas(spec), 2, households=False)
    target = np.full(inst.n_types, 0.5)
    found = decompose(inst, target, goal=0.999)
    assert found.ratio < 0.999
    if found.panels:
        _assert_panels(inst, np.array(found.panels))


def test_another_preference_rescues_a_path_that_ends_on_a_face_without_panels() -> None:
    """On this pool the first preference (remaining probability) steps onto a face of the
    relaxation that holds no panel; the other preferences find the mixture."""
    inst = _instance(7)
    _, counts, _ = relaxed_leximin_counts(inst, np.zeros(inst.n_types, dtype=bool))
    first = _attempt(inst, counts, counts, _share, 1.0 - 1e-3, None)
    assert first.ratio < 1.0 - 1e-3
    found = decompose(inst, counts, goal=1.0 - 1e-3)
    assert found.ratio >= 1.0 - 1e-3
    mixture = found.weights @ np.array(found.panels)
    assert np.all(mixture >= (1.0 - 1e-3) * counts - 1e-9)
    assert found.milp_solves >= first.milp_solves  # both passes are counted


def test_maximin_floor_stops_as_soon_as_the_minimum_is_reached() -> None:
    inst = _instance(5)
    never = np.zeros(inst.n_types, dtype=bool)
    _, counts, _ = relaxed_leximin_counts(inst, never)
    floor = np.full(inst.n_types, 0.5) * counts  # half of every target is enough
    found = decompose(inst, counts, goal=1.0, floor=floor)
    mixture = found.weights @ np.array(found.panels)
    assert found.ratio >= 1.0
    assert np.all(mixture >= floor - 1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3, 7])
def test_decomposed_leximin_equals_the_exact_levels(seed: int) -> None:
    inst = _instance(seed, n=40, k=10)
    fast = leximin(inst, tolerance=1e-7)
    slow = leximin(inst, tolerance=1e-7, decompose=False, exact=True)
    assert fast.complete
    assert slow.complete
    _assert_panels(inst, fast.panels)
    fast_probs = inst.person_probabilities(fast.type_probs)
    slow_probs = inst.person_probabilities(slow.type_probs)
    # the leximin profile is unique (the distribution need not be)
    assert np.sort(fast_probs) == pytest.approx(np.sort(slow_probs), abs=1e-5)
    assert fast_probs.sum() == pytest.approx(inst.k)


def test_decomposed_maximin_matches_column_generation() -> None:
    inst = _instance(6, n=50, k=10)
    fast = maximin(inst, tolerance=1e-7)
    slow = maximin(inst, tolerance=1e-7, decompose=False)
    _assert_panels(inst, fast.panels)
    assert fast.type_probs.min() == pytest.approx(slow.type_probs.min(), abs=1e-6)
    assert fast.weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("decompose_first", [True, False])
def test_tiny_leximin_with_and_without_decomposition_matches_brute_force(
    decompose_first: bool,
) -> None:
    rows = [
        {"g": "f", "a": "young"},
        {"g": "f", "a": "old"},
        {"g": "f", "a": "old"},
        {"g": "m", "a": "old"},
        {"g": "m", "a": "old"},
        {"g": "m", "a": "young"},
        {"g": "d", "a": "old"},
    ]
    spec = {"g": {"f": (1, 2), "m": (1, 2), "d": (0, 1)}, "a": {"young": (1, 2), "old": (1, 3)}}
    homes = ["h1", "h1", "h2", "h3", "h3", "h4", "h5"]
    inst = build_instance(people(rows, homes), quotas(spec), 3, households=True)
    dist = leximin(inst, tolerance=1e-8, decompose=decompose_first)
    probs = inst.person_probabilities(dist.type_probs)
    assert probs == pytest.approx(brute_leximin(all_panels(inst)), abs=1e-6)


def test_leximin_at_a_practical_tolerance_is_the_decomposition_itself() -> None:
    inst = _instance(1)
    dist = leximin(inst, tolerance=1e-4)
    target, counts, _ = relaxed_leximin_counts(inst, np.zeros(inst.n_types, dtype=bool))
    found = decompose(inst, counts, goal=1.0 - 1e-4)
    assert found.ratio >= 1.0 - 1e-4
    # no column generation ran: the panels are the decomposition's, weights and all
    assert len(dist.weights) == len(found.panels)
    assert dist.weights == pytest.approx(found.weights)
    assert dist.complete
    assert np.all(dist.type_probs >= (1.0 - 1e-4) * target - 1e-9)


def test_relaxed_levels_survive_rounding_near_probability_one() -> None:
    """The bench's pool with seed 1 has types at probability 1, whose level the LP puts
    at 0.9999989; a floor just below that made a later level infeasible."""
    from bench.selection_bench import K, make_pool, make_quotas

    inst = build_instance(make_pool(1), make_quotas(), K, households=False)
    probs, counts, _ = relaxed_leximin_counts(inst, np.zeros(inst.n_types, dtype=bool))
    assert counts.sum() == pytest.approx(K)
    assert probs.max() == pytest.approx(1.0, abs=1e-5)
    totals = inst.cat_matrix @ counts
    assert np.all(totals >= inst.lo - 1e-6)
    assert np.all(totals <= inst.hi + 1e-6)
    assert np.all(counts >= (1.0 - 1e-4) * probs * inst.sizes - 1e-9)
