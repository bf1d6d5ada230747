"""The leximin of the LP relaxation: a cheap upper bound and a target for LEXIMIN.

Replace "a distribution over integer panels" by "expected counts e per type with sum k, every
quota between its bounds, at most one per household, 0 <= e_t <= n_t". Every distribution's
expected counts lie in this polytope, so the leximin over the polytope is at least as good,
in leximin order, as any distribution's profile; and when quota polytopes are (nearly)
integral, as they are in practice, a distribution can come within a hair of it. Each level
is one small LP (types + 1 variables), so the whole profile costs a few seconds, against
one column generation per level for the exact method.

`fair.leximin` uses it as the target: one column generation maximises the smallest ratio
of probability to target; at ratio 1 - tolerance every person has at least that fraction of
their relaxed leximin probability, which no distribution beats lexicographically.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, sparse

from activities.selection.instance import FloatArray, Instance

__all__ = ["relaxed_level", "relaxed_leximin", "relaxed_leximin_counts"]

_DUAL_POSITIVE = 1e-9
_FLOOR_SLACK = (0.0, 1e-7, 1e-6, 1e-5, 1e-4)


def relaxed_level(
    inst: Instance, fixed: np.ndarray, floor: FloatArray, never: np.ndarray, scale: FloatArray
) -> tuple[float, FloatArray, FloatArray]:
    """max z: e_t / scale_t >= z for free types, >= floor_t for fixed ones; (z, e, duals)."""
    n_types = inst.n_types
    inv = sparse.diags_array(1.0 / scale)
    free = (~fixed).astype(np.float64)[:, None]
    cats = sparse.csr_array(inst.cat_matrix)
    zero = np.zeros((len(inst.lo), 1))
    rows = sparse.vstack(
        [
            sparse.hstack([-inv, sparse.csr_array(free)]),
            sparse.hstack([cats, zero]),
            sparse.hstack([-cats, zero]),
            sparse.hstack(
                [sparse.csr_array(inst.household_rows), np.zeros((len(inst.household_rows), 1))]
            ),
        ],
        format="csr",
    )
    b_ub = np.concatenate(
        [np.where(fixed, -floor, 0.0), inst.hi, -inst.lo, np.ones(len(inst.household_rows))]
    )
    cost = np.zeros(n_types + 1)
    cost[-1] = -1.0
    upper = np.where(never, 0.0, inst.sizes.astype(np.float64))
    result = optimize.linprog(
        cost,
        A_ub=rows,
        b_ub=b_ub,
        A_eq=np.concatenate([np.ones(n_types), [0.0]])[None, :],
        b_eq=[float(inst.k)],
        bounds=[(0.0, float(u)) for u in upper] + [(None, None)],
        method="highs",
    )
    if result.status != 0:
        msg = f"relaxation LP failed: {result.message}"
        raise RuntimeError(msg)
    duals: FloatArray = np.maximum(-np.asarray(result.ineqlin.marginals)[:n_types], 0.0)
    return float(result.x[-1]), np.asarray(result.x[:-1]), duals


def _level_with_slack(
    inst: Instance, fixed: np.ndarray, floor: FloatArray, never: np.ndarray, sizes: FloatArray
) -> tuple[float, FloatArray, FloatArray]:
    """`relaxed_level`, lowering the floors a little if rounding made them infeasible.

    A level's z is only as exact as the LP (about 1e-6 relative near probability 1 on the
    bench's second pool), so a floor of z - 1e-9 can lie just above what is reachable and
    make a later level infeasible; the floors then give way by 1e-7, 1e-6, ... relative.
    """
    for slack in _FLOOR_SLACK:
        try:
            return relaxed_level(inst, fixed, floor * (1.0 - slack), never, sizes)
        except RuntimeError:
            if slack == _FLOOR_SLACK[-1]:
                raise
    raise AssertionError  # pragma: no cover - the loop returns or raises


def relaxed_leximin(inst: Instance, never: np.ndarray) -> tuple[FloatArray, int]:
    """Per-type probabilities of the relaxation's leximin (0 for `never`), and its levels."""
    probs, _, levels = relaxed_leximin_counts(inst, never)
    return probs, levels


def relaxed_leximin_counts(inst: Instance, never: np.ndarray) -> tuple[FloatArray, FloatArray, int]:
    """The relaxation's leximin as probabilities (a hair below, as floors) and as the
    expected counts of the last level's LP (a point of the relaxation, sum k), and levels.

    Level by level: maximise the smallest probability of the types not yet fixed; types with
    a positive dual are at that value in every optimum (complementary slackness) and are
    fixed there.
    """
    sizes = inst.sizes.astype(np.float64)
    fixed = never.copy()
    floor = np.zeros(inst.n_types)
    counts = np.zeros(inst.n_types)
    levels = 0
    while not fixed.all():
        levels += 1
        z, counts, duals = _level_with_slack(inst, fixed, floor, never, sizes)
        tight = ~fixed & (duals > _DUAL_POSITIVE)
        if not tight.any():  # flat duals: the free types at the level are tight
            at_level = ~fixed & (counts / sizes <= z + 1e-9)
            tight = at_level if at_level.any() else ~fixed
        floor[tight] = max(z - 1e-9, 0.0)
        fixed |= tight
    return np.where(never, 0.0, floor), np.where(never, 0.0, counts), levels
