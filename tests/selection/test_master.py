"""The warm highspy master and LP-first pricing against the SciPy reference they replace."""

from __future__ import annotations

import random

import numpy as np
import pytest

from activities.selection.fair import leximin, maximin
from activities.selection.instance import Instance, build_instance
from activities.selection.master_highs import HighsMaster
from activities.selection.master_pricing import LpFirstPricer
from activities.selection.master_scipy import ScipyMaster
from activities.selection.panels import best_panel
from tests.selection.helpers import all_panels, brute_leximin, people, quotas


def _random_instance(seed: int, n: int = 60, k: int = 12, *, households: bool = False) -> Instance:
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


@pytest.mark.parametrize("households", [False, True])
def test_lp_first_pricing_reaches_the_milp_optimum(households: bool) -> None:
    inst = _random_instance(3, households=households)
    pricer = LpFirstPricer(inst)
    rng = np.random.default_rng(5)
    for _ in range(30):
        # ties (many equal weights) are what make the LP vertex fractional
        weights = rng.integers(0, 4, inst.n_types).astype(np.float64) / 3
        fast = pricer.best(weights)
        slow = best_panel(inst, weights)
        assert fast is not None
        assert slow is not None
        assert float(weights @ fast) == pytest.approx(float(weights @ slow), rel=1e-7)
        assert fast.sum() == inst.k
        totals = inst.cat_matrix @ fast
        assert np.all(totals >= inst.lo)
        assert np.all(totals <= inst.hi)
        assert np.all(fast >= 0)
        assert np.all(fast <= inst.sizes)
        if households:
            assert np.all(inst.household_rows @ fast <= 1)
    assert pricer.lp_hits > 0  # the fast path did answer some of them


def test_lp_first_pricing_reports_no_panel_when_none_exists() -> None:
    pool = people([{"g": "a"}, {"g": "b"}])
    inst = build_instance(pool, quotas({"g": {"a": (2, 2), "b": (0, 1)}}), 2, households=False)
    assert LpFirstPricer(inst).best(np.ones(inst.n_types)) is None


def test_warm_master_agrees_with_the_cold_one_across_levels() -> None:
    inst = _random_instance(11)
    rng = np.random.default_rng(2)
    found = (best_panel(inst, rng.random(inst.n_types)) for _ in range(60))
    panels = list({p.tobytes(): p for p in found if p is not None}.values())
    scale = inst.sizes.astype(np.float64)
    warm, cold = HighsMaster(inst.n_types, scale), ScipyMaster(inst.n_types, scale)
    fixed = np.zeros(inst.n_types, dtype=bool)
    floor = np.zeros(inst.n_types)
    for start in range(0, len(panels), 10):  # columns arrive in batches, as in the rounds
        batch = panels[start : start + 10]
        warm.add(batch)
        cold.add(batch)
        z_warm, w_warm, _ = warm.solve(fixed, floor)
        z_cold, _, _ = cold.solve(fixed, floor)
        assert z_warm == pytest.approx(z_cold, abs=1e-9)
        assert w_warm.sum() == pytest.approx(1.0)
        assert np.all(w_warm >= -1e-9)
    # a second level: the types with positive duals are fixed at z, the LP goes on warm
    z, _, duals = warm.solve(fixed, floor)
    tight = duals > 1e-6
    fixed, floor = fixed | tight, np.where(tight, z - 1e-9, 0.0)
    warm.keep(list(range(0, len(panels), 2)))
    cold.keep(list(range(0, len(panels), 2)))
    z_warm, w_warm, _ = warm.solve(fixed, floor)
    z_cold, _, _ = cold.solve(fixed, floor)
    assert z_warm == pytest.approx(z_cold, abs=1e-9)
    probs = (w_warm @ np.array(panels[::2])) / inst.sizes
    assert np.all(probs[fixed] >= floor[fixed] - 1e-7)


@pytest.mark.parametrize("seed", [1, 2])
def test_both_masters_give_the_brute_force_leximin(seed: int) -> None:
    inst = _random_instance(seed, n=9, k=4)
    inst = build_instance(
        list(inst.people),
        quotas(
            {
                "g": {"f": (1, 3), "m": (1, 3), "d": (0, 1)},
                "a": {"y": (1, 2), "m": (0, 2), "o": (1, 3)},
                "e": {"l": (1, 3), "h": (1, 3)},
            }
        ),
        4,
        households=False,
    )
    expected = brute_leximin(all_panels(inst))
    for master in ("highs", "scipy"):
        for exact in (False, True):
            dist = leximin(inst, tolerance=1e-8, exact=exact, master=master)
            probs = inst.person_probabilities(dist.type_probs)
            assert probs == pytest.approx(expected, abs=1e-6), (master, exact)
        best = maximin(inst, tolerance=1e-8, master=master)
        assert inst.person_probabilities(best.type_probs).min() == pytest.approx(
            expected.min(), abs=1e-6
        )


def test_unknown_master_is_a_clear_error() -> None:
    inst = _random_instance(1, n=9, k=4)
    with pytest.raises(ValueError, match="master: expected 'highs' or 'scipy'"):
        maximin(inst, master="gurobi")
