"""Pricing by the LP relaxation first, the MILP only when the LP cannot prove its answer.

Every round of column generation asks for the panel of highest weighted sum. The MILP
(`panels.best_panel`) answers in about 0.13 s on 1,254 types, nearly all of it HiGHS' root
processing, and on quota instances its optimum equals the LP relaxation's value: the LP's
optimal vertex is merely fractional in a dozen or two types because of ties. So:

1. solve the relaxation in one `highspy` model kept alive (only the objective changes, so
   the dual simplex restarts from the last basis: a few milliseconds);
2. if its optimum is integral, that is the MILP's optimum: done;
3. else fix the integral types and solve a small MILP over the fractional ones, each between
   the floor and ceiling of its LP value; if that panel reaches the LP value (an upper bound
   on every panel), it is optimal: done;
4. else the full MILP.

Every panel returned is thus optimal to within `_PROVEN` relative of the LP bound, as tight
as the MILP's own gap (1e-7), so convergence and the LEXIMIN proofs are unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, sparse

from activities.selection.instance import FloatArray, Instance, IntArray
from activities.selection.panels import best_panel

try:  # the bare solver: `highspy.Highs` adds interrupt handling and prints a banner
    from highspy._core import _Highs as _Solver
except ImportError:  # pragma: no cover - older highspy layouts
    from highspy import Highs as _Solver

import highspy

__all__ = ["LpFirstPricer", "QuotaRows", "quota_lp"]

_PROVEN = 1e-9  # relative shortfall from the LP bound still counted as optimal
_INTEGRAL = 1e-7


class QuotaRows:
    """The panels' polytope: rows `lower <= A x <= upper` (panel size, quotas, households)
    and columns `0 <= x <= sizes` (people of each type)."""

    def __init__(self, inst: Instance) -> None:
        n_house = inst.household_rows.shape[0]
        dense = np.vstack([np.ones((1, inst.n_types)), inst.cat_matrix, inst.household_rows])
        self.rows = sparse.csr_array(dense)
        self.lower = np.concatenate([[float(inst.k)], inst.lo, np.full(n_house, -np.inf)])
        self.upper = np.concatenate([[float(inst.k)], inst.hi, np.ones(n_house)])
        self.sizes = inst.sizes.astype(np.float64)


def quota_lp(cons: QuotaRows) -> _Solver:
    """A quiet HiGHS model of the polytope's LP relaxation, maximising; costs all zero."""
    n = len(cons.sizes)
    h = _Solver()
    h.setOptionValue("output_flag", False)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    h.addCols(n, np.zeros(n), np.zeros(n), cons.sizes, 0, np.zeros(n, np.int32), [], [])
    rows = cons.rows
    h.addRows(
        rows.shape[0],
        np.where(np.isfinite(cons.lower), cons.lower, -highspy.kHighsInf),
        cons.upper,
        rows.nnz,
        rows.indptr[:-1].astype(np.int32),
        rows.indices.astype(np.int32),
        rows.data.astype(np.float64),
    )
    return h


class LpFirstPricer:
    """The panel of maximum `weights · counts`, proven optimal, mostly without a full MILP."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.lp_hits = 0  # answered by steps 2 or 3
        self.milp_fallbacks = 0  # answered by the full MILP
        cons = QuotaRows(inst)
        self._rows, self._lower, self._upper = cons.rows, cons.lower, cons.upper
        self._all = np.arange(inst.n_types, dtype=np.int32)
        self._highs = quota_lp(cons)

    def best(self, weights: FloatArray) -> IntArray | None:
        """The best panel, or None if no panel exists."""
        w = np.asarray(weights, dtype=np.float64)
        h = self._highs
        h.changeColsCost(len(w), self._all, w)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return self._full(w)  # infeasible or numerically unsure: the MILP decides
        x = np.asarray(h.getSolution().col_value, dtype=np.float64)
        bound = float(w @ x)
        rounded = np.rint(x)
        fractional = np.abs(x - rounded) > _INTEGRAL
        if not fractional.any():
            counts: IntArray = rounded.astype(np.int64)
            self.lp_hits += 1
            return counts
        repaired = self._repair(w, x, fractional)
        if repaired is not None and float(w @ repaired) >= bound - _PROVEN * max(abs(bound), 1.0):
            self.lp_hits += 1
            return repaired
        return self._full(w)

    def _repair(self, w: FloatArray, x: FloatArray, fractional: np.ndarray) -> IntArray | None:
        """Best panel that keeps the LP's integral types and rounds the others up or down."""
        settled = np.where(fractional, 0.0, np.rint(x))
        free = np.flatnonzero(fractional)
        used = self._rows @ settled
        sub = self._rows[:, free]
        result = optimize.milp(
            -w[free],
            integrality=np.ones(len(free)),
            bounds=optimize.Bounds(np.floor(x[free]), np.ceil(x[free])),
            constraints=optimize.LinearConstraint(sub, self._lower - used, self._upper - used),
            options={"disp": False, "mip_rel_gap": 1e-9},
        )
        if result.x is None:
            return None
        counts = settled.copy()
        counts[free] = np.rint(result.x)
        return counts.astype(np.int64)

    def _full(self, w: FloatArray) -> IntArray | None:
        self.milp_fallbacks += 1
        return best_panel(self.inst, w)
