"""Finding one feasible panel with HiGHS: the pricing problem of the column generation.

A panel is a vector of counts per type: `sum = k`, every category between its min and max,
at most one person per household. `best_panel` maximises a weighted sum of counts; with
zero weights it is the feasibility test, and the quota bounds can be overridden so that the
feasibility explanation can switch single quotas off.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, sparse

from activities.selection.instance import FloatArray, Instance, IntArray

__all__ = ["best_panel", "swap_neighbours"]

# A tight relative gap: the pricing value decides whether column generation has converged.
_MIP_OPTIONS = {"disp": False, "mip_rel_gap": 1e-7, "presolve": True}


def best_panel(
    inst: Instance,
    weights: FloatArray | None = None,
    *,
    lo: FloatArray | None = None,
    hi: FloatArray | None = None,
) -> IntArray | None:
    """The panel (counts per type) of maximum `weights · counts`, or None if none exists."""
    n_types = inst.n_types
    c = np.zeros(n_types) if weights is None else -np.asarray(weights, dtype=np.float64)
    lo_b = inst.lo if lo is None else lo
    hi_b = inst.hi if hi is None else hi
    rows = [np.ones((1, n_types)), inst.cat_matrix]
    lower = [np.array([float(inst.k)]), lo_b]
    upper = [np.array([float(inst.k)]), hi_b]
    if inst.household_rows.shape[0]:
        rows.append(inst.household_rows)
        lower.append(np.full(inst.household_rows.shape[0], -np.inf))
        upper.append(np.ones(inst.household_rows.shape[0]))
    constraint = optimize.LinearConstraint(
        sparse.csr_array(np.vstack(rows)), np.concatenate(lower), np.concatenate(upper)
    )
    result = optimize.milp(
        c,
        integrality=np.ones(n_types),
        bounds=optimize.Bounds(np.zeros(n_types), inst.sizes.astype(np.float64)),
        constraints=constraint,
        options=_MIP_OPTIONS,
    )
    if result.status == 2:  # proven infeasible
        return None
    if result.x is None:
        msg = f"HiGHS could not solve the panel problem: {result.message}"
        raise RuntimeError(msg)
    counts: IntArray = np.rint(result.x).astype(np.int64)
    return counts


def swap_neighbours(
    inst: Instance, counts: IntArray, weights: FloatArray, threshold: float, limit: int = 200
) -> list[IntArray]:
    """Panels one swap away from `counts` whose weighted sum exceeds `threshold`.

    Column generation adds one panel per MILP otherwise, and a distribution needs hundreds
    of panels; a swap (one person of type a out, one of type b in, quotas and households
    still met) is cheap to check, and taking each attractive type b in by its best swap
    gives many useful panels per pricing round.
    """
    rows = np.vstack([inst.cat_matrix, inst.household_rows])
    lower = np.concatenate([inst.lo, np.full(inst.household_rows.shape[0], -np.inf)])
    upper = np.concatenate([inst.hi, np.ones(inst.household_rows.shape[0])])
    totals = rows @ counts
    price = float(weights @ counts)
    inside = np.flatnonzero(counts > 0)
    # candidates to swap in: highest weight first, with room left in their type
    order = np.argsort(-weights, kind="stable")
    wanted = [int(b) for b in order if counts[b] < inst.sizes[b] and weights[b] > 0][:limit]
    found: list[IntArray] = []
    for b in wanted:
        gains = weights[b] - weights[inside]
        if price + float(gains.max()) <= threshold:
            break  # later candidates have lower weights: no swap of theirs can pass
        after = totals[:, None] - rows[:, inside] + rows[:, [b]]  # (R, |inside|)
        ok = np.all((after >= lower[:, None] - 1e-9) & (after <= upper[:, None] + 1e-9), axis=0)
        ok &= inside != b
        if not ok.any():
            continue
        best = inside[ok][int(np.argmax(gains[ok]))]
        if price + weights[b] - weights[best] > threshold:
            neighbour = counts.copy()
            neighbour[best] -= 1
            neighbour[b] += 1
            found.append(neighbour)
    return found
