"""The master LP solved from scratch with SciPy's `linprog`: the fallback without highspy.

Same LP and same interface as `master_highs.HighsMaster` (see there); every solve builds the
whole LP again, which is what made the column generation slow, but it needs nothing beyond
SciPy and serves as the reference the warm-started master is checked against.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, sparse

from activities.selection.instance import FloatArray, IntArray

__all__ = ["ScipyMaster"]


class ScipyMaster:
    """The master LP over a set of panels, rebuilt and solved cold on every call."""

    def __init__(self, n_types: int, scale: FloatArray) -> None:
        self._n_types = n_types
        self._scale = np.asarray(scale, dtype=np.float64).copy()
        self._columns: list[IntArray] = []

    def add(self, columns: list[IntArray]) -> None:
        """Append panels (counts per type)."""
        self._columns.extend(columns)

    def keep(self, indices: list[int]) -> None:
        """Drop every panel not in `indices` (ascending positions in the current order)."""
        self._columns = [self._columns[j] for j in indices]

    def basic(self) -> np.ndarray:
        """No basis is kept between solves: any panel may be dropped."""
        return np.zeros(len(self._columns), dtype=bool)

    def set_scale(self, scale: FloatArray) -> None:
        """New divisors for the type rows."""
        self._scale = np.asarray(scale, dtype=np.float64).copy()

    def solve(self, fixed: np.ndarray, floor: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """Best z over the current panels: (z, panel weights, duals per type, >= 0)."""
        m = np.array(self._columns, dtype=np.float64).T / self._scale[:, None]  # (T, P)
        n_panels = m.shape[1]
        free = (~fixed).astype(np.float64)[:, None]
        # rows t: -m_t . lambda + z <= 0 (free) ; -m_t . lambda <= -floor_t (fixed)
        a_ub = sparse.hstack([sparse.csr_array(-m), sparse.csr_array(free)], format="csr")
        b_ub = np.where(fixed, -floor, 0.0)
        a_eq = np.concatenate([np.ones(n_panels), [0.0]])[None, :]
        cost = np.zeros(n_panels + 1)
        cost[-1] = -1.0
        result = optimize.linprog(
            cost,
            A_ub=a_ub,
            b_ub=b_ub,
            A_eq=a_eq,
            b_eq=[1.0],
            bounds=[(0.0, None)] * n_panels + [(None, None)],
            method="highs",
        )
        if result.status != 0:
            msg = f"master LP failed: {result.message}"
            raise RuntimeError(msg)
        duals: FloatArray = np.maximum(-np.asarray(result.ineqlin.marginals), 0.0)
        return float(result.x[-1]), np.asarray(result.x[:-1]), duals
