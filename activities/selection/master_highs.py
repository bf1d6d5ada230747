"""The master LP of the fair selection's column generation, kept alive in one HiGHS model.

Column generation solves the master LP once per round with a few more panels than the
round before. SciPy's `linprog` builds and solves it from scratch every time, which was 80 %
of MAXIMIN's time. Here one `highspy.Highs` model lives for the whole computation: new panels
are appended as columns (nonbasic at 0, so the previous optimal basis stays primal feasible)
and the primal simplex continues from that basis in a handful of iterations; a new LEXIMIN
level only changes row bounds and the coefficient of z, so its first solve starts from the
previous level's basis too.

The LP (columns: z, then one weight per panel; rows: one per type, then sum of weights = 1):

    maximise z   s.t.   z - m_t . lambda <= 0           for every free type t
                          - m_t . lambda <= -floor_t    for every fixed type t
                        sum lambda = 1,   lambda >= 0

with m_t = panel count of type t / scale_t. Its duals are read exactly as from `linprog`
(the sensitivity of the minimised objective -z to each right-hand side, <= 0 for these rows),
so `master_scipy` and this module are interchangeable.
"""

from __future__ import annotations

import highspy
import numpy as np

from activities.selection.instance import FloatArray, IntArray

try:  # the bare solver: `highspy.Highs` adds interrupt handling and prints a banner
    from highspy._core import _Highs as _Solver
except ImportError:  # pragma: no cover - older highspy layouts
    from highspy import Highs as _Solver

__all__ = ["HighsMaster"]

_INF = highspy.kHighsInf


class HighsMaster:
    """The master LP over a growing set of panels, re-solved warm from the last basis."""

    def __init__(self, n_types: int, scale: FloatArray) -> None:
        self._n_types = n_types
        self._scale = np.asarray(scale, dtype=np.float64).copy()
        self._columns: list[IntArray] = []
        self._fixed = np.zeros(n_types, dtype=bool)
        self._floor = np.zeros(n_types)
        self.iterations = 0  # simplex iterations over all solves, for the bench
        self._highs = _Solver()
        self._highs.setOptionValue("output_flag", False)
        self._highs.setOptionValue("log_to_console", False)
        # new columns leave the basis primal feasible: the primal simplex continues from it
        self._highs.setOptionValue("simplex_strategy", 4)
        self._build()

    def _build(self) -> None:
        """The model from scratch: rows for the current level, z, then every panel."""
        h = self._highs
        h.clearModel()
        h.changeObjectiveSense(highspy.ObjSense.kMinimize)
        n = self._n_types
        upper = np.where(self._fixed, -self._floor, 0.0)
        h.addRows(n, np.full(n, -_INF), upper, 0, np.zeros(n, np.int32), [], [])
        h.addRows(1, np.ones(1), np.ones(1), 0, np.zeros(1, np.int32), [], [])
        free = np.flatnonzero(~self._fixed).astype(np.int32)
        h.addCol(-1.0, -_INF, _INF, len(free), free, np.ones(len(free)))
        self._append(self._columns)

    def _append(self, columns: list[IntArray]) -> None:
        if not columns:
            return
        starts: list[int] = []
        indices: list[int] = []
        values: list[float] = []
        for counts in columns:
            starts.append(len(indices))
            nonzero = np.flatnonzero(counts)
            indices.extend(nonzero.tolist())
            values.extend((-counts[nonzero] / self._scale[nonzero]).tolist())
            indices.append(self._n_types)  # the row "sum of weights = 1"
            values.append(1.0)
        count = len(columns)
        self._highs.addCols(
            count,
            np.zeros(count),
            np.zeros(count),
            np.full(count, _INF),
            len(indices),
            np.array(starts, dtype=np.int32),
            np.array(indices, dtype=np.int32),
            np.array(values, dtype=np.float64),
        )

    def add(self, columns: list[IntArray]) -> None:
        """Append panels (counts per type) as new columns; the basis stays valid."""
        self._columns.extend(columns)
        self._append(columns)

    def keep(self, indices: list[int]) -> None:
        """Drop every panel not in `indices` (ascending positions in the current order)."""
        drop = sorted(set(range(len(self._columns))) - set(indices))
        if not drop:
            return
        self._columns = [self._columns[j] for j in indices]
        cols = np.array(drop, dtype=np.int32) + 1  # column 0 is z
        self._highs.deleteCols(len(cols), cols)

    def basic(self) -> np.ndarray:
        """Which panels are basic: dropping one would throw the warm basis away."""
        status = self._highs.getBasis().col_status
        return np.array(
            [s == highspy.HighsBasisStatus.kBasic for s in list(status)[1:]], dtype=bool
        )

    def set_scale(self, scale: FloatArray) -> None:
        """New divisors for the type rows: every coefficient changes, so rebuild (rare)."""
        self._scale = np.asarray(scale, dtype=np.float64).copy()
        self._build()

    def _set_level(self, fixed: np.ndarray, floor: FloatArray) -> None:
        changed = np.flatnonzero((fixed != self._fixed) | (fixed & (floor != self._floor)))
        h = self._highs
        for t in changed.tolist():
            h.changeCoeff(t, 0, 0.0 if fixed[t] else 1.0)
            h.changeRowBounds(t, -_INF, -float(floor[t]) if fixed[t] else 0.0)
        self._fixed = fixed.copy()
        self._floor = np.asarray(floor, dtype=np.float64).copy()

    def solve(self, fixed: np.ndarray, floor: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """Best z over the current panels: (z, panel weights, duals per type, >= 0)."""
        self._set_level(fixed, floor)
        h = self._highs
        h.run()
        self.iterations += h.getInfo().simplex_iteration_count
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            # a stale basis can leave the simplex stuck: once more from scratch
            h.clearSolver()
            h.run()
            status = h.getModelStatus()
            if status != highspy.HighsModelStatus.kOptimal:
                msg = f"master LP failed: {h.modelStatusToString(status)}"
                raise RuntimeError(msg)
        solution = h.getSolution()
        x = np.asarray(solution.col_value, dtype=np.float64)
        row_dual = np.asarray(solution.row_dual, dtype=np.float64)[: self._n_types]
        duals: FloatArray = np.maximum(-row_dual, 0.0)
        weights: FloatArray = x[1:]
        return float(x[0]), weights, duals
