"""Realise target expected counts as a lottery over panels, one panel per step.

The leximin of the LP relaxation (`relaxed`) gives every type an expected count; that point
lies in the panel polytope's relaxation P = {x : sum x = k, quotas, households, 0 <= x <= n}.
If it is a convex combination of panels (integer points of P, which quota polytopes nearly
always allow), that combination is a LEXIMIN distribution. Column generation towards it
converges slowly (it needs the few dozen panels of the combination, and finds them one
dual at a time); Carathéodory's construction finds them directly:

1. take a panel v on the smallest face of P that contains the remaining point x (every
   constraint tight at x is tight at v): an LP over that face, its vertex repaired to an
   integer point by a small MILP if it is fractional;
2. move x away from v as far as P allows: x = theta v + (1 - theta) x', where x' is in P and
   one more constraint is tight at x' than at x;
3. repeat with x' until the target is realised to the wanted ratio. Where P is not integral
   the path can reach a face that holds no panel although the target is a mixture (or the
   target is none): then the construction starts again preferring other panels, and after
   four tries the caller falls back to column generation.

Each step fixes one more constraint, so the panels number at most the face dimensions
plus one; in practice the mass left over shrinks geometrically and a few dozen panels
suffice. The residual is kept unnormalised (r = remaining mass m times x) so rounding does
not grow as m shrinks.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import highspy
import numpy as np
from scipy import optimize

from activities.selection.instance import FloatArray, Instance, IntArray
from activities.selection.master_pricing import QuotaRows, quota_lp

__all__ = ["Decomposition", "decompose"]

_INF = highspy.kHighsInf
_TIGHT = 1e-7  # slack (in counts) below which a constraint of the target counts as tight
_INTEGRAL = 1e-7
_NEIGHBOURHOODS = (0, 20, 60)  # extra types the repair MILP may move, tried in turn
_SMALLEST_MASS = 1e-12
_NUMERIC_LIMIT = 1.0 - 1e-6  # the relaxed target is only as exact as its LP


@dataclasses.dataclass(frozen=True, eq=False)
class Decomposition:
    """Panels with weights summing to 1, and how close their expected counts come."""

    panels: list[IntArray]
    weights: FloatArray
    ratio: float  # smallest expected count / floor over the types with a positive floor
    lp_solves: int
    milp_solves: int


class _FaceLp:
    """The LP over a face of P, kept alive: each step only tightens bounds and reweights."""

    def __init__(self, cons: QuotaRows) -> None:
        self._highs = quota_lp(cons)
        self._cols = np.arange(len(cons.sizes), dtype=np.int32)
        self._row_lo = cons.lower.copy()
        self._row_hi = cons.upper.copy()

    def solve(
        self,
        weights: FloatArray,
        col_bounds: tuple[FloatArray, FloatArray],
        row_bounds: tuple[FloatArray, FloatArray],
    ) -> FloatArray | None:
        h = self._highs
        lo, hi = col_bounds
        h.changeColsBounds(len(self._cols), self._cols, lo, hi)
        r_lo, r_hi = row_bounds
        # few rows, and only the newly tight ones change (the stubs lack changeRowsBounds)
        for i in np.flatnonzero((r_lo != self._row_lo) | (r_hi != self._row_hi)).tolist():
            lower = float(r_lo[i]) if np.isfinite(r_lo[i]) else -_INF
            h.changeRowBounds(i, lower, float(r_hi[i]))
        self._row_lo, self._row_hi = r_lo.copy(), r_hi.copy()
        h.changeColsCost(len(self._cols), self._cols, weights)
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(h.getSolution().col_value, dtype=np.float64)


def _share(residual: FloatArray, mass: float, sizes: FloatArray, target: FloatArray) -> FloatArray:
    return residual / mass / sizes  # the probability still to place


def _root_share(
    residual: FloatArray, mass: float, sizes: FloatArray, target: FloatArray
) -> FloatArray:
    return np.sqrt(residual / mass / sizes)


def _fraction(
    residual: FloatArray, mass: float, sizes: FloatArray, target: FloatArray
) -> FloatArray:
    return residual / np.maximum(target, 1e-12)  # the part of the target still to place


def _count(residual: FloatArray, mass: float, sizes: FloatArray, target: FloatArray) -> FloatArray:
    return residual / mass


# Which panel to take next: the step length is limited by the smallest remaining share among
# the panel's types, so each prefers types with much left to place. The first is fastest on
# the bench (fewest panels); where P is not integral a path can end on a face without panels,
# and another preference usually avoids that (random small pools: 16 of 80 stuck with the
# first, none with all four).
_OBJECTIVES = (_share, _root_share, _fraction, _count)


class _Decomposer:
    def __init__(
        self,
        inst: Instance,
        target: FloatArray,
        objective: Callable[[FloatArray, float, FloatArray, FloatArray], FloatArray],
    ) -> None:
        self.objective = objective
        self.cons = QuotaRows(inst)
        self.face_lp = _FaceLp(self.cons)
        self.target = np.asarray(target, dtype=np.float64)
        self.residual = self.target.copy()
        self.mass = 1.0
        cons = self.cons
        # the face: which constraints are tight (sticky: once tight, every later panel is
        # on it too, so it stays tight in exact arithmetic)
        self.at_zero = self.residual <= _TIGHT
        self.at_size = self.residual >= cons.sizes - _TIGHT
        used = cons.rows @ self.residual
        self.at_lower = np.isfinite(cons.lower) & (used <= cons.lower + _TIGHT)
        self.at_upper = used >= cons.upper - _TIGHT
        self.lp_solves = 0
        self.milp_solves = 0

    def face_bounds(
        self,
    ) -> tuple[tuple[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]:
        cons = self.cons
        col_lo = np.where(self.at_size, cons.sizes, 0.0)
        col_hi = np.where(self.at_zero, 0.0, cons.sizes)
        row_lo = np.where(self.at_upper, cons.upper, cons.lower)
        row_hi = np.where(self.at_lower, cons.lower, cons.upper)
        return (col_lo, col_hi), (row_lo, row_hi)

    def panel_on_face(self) -> IntArray | None:
        """An integer point of the current face: LP vertex, else repaired, else a MILP."""
        cols, rows = self.face_bounds()
        weights = self.objective(self.residual, self.mass, self.cons.sizes, self.target)
        self.lp_solves += 1
        x = self.face_lp.solve(weights, cols, rows)
        if x is None:
            return None
        rounded = np.rint(x)
        fractional = np.abs(x - rounded) > _INTEGRAL
        if not fractional.any():
            return self._checked(rounded, cols, rows)
        for extra in _NEIGHBOURHOODS:
            panel = self._repair(weights, x, fractional, extra, cols, rows)
            if panel is not None:
                return panel
        return self._milp(weights, np.ones(len(x), dtype=bool), np.zeros(len(x)), cols, rows)

    def _repair(
        self,
        weights: FloatArray,
        x: FloatArray,
        fractional: np.ndarray,
        extra: int,
        cols: tuple[FloatArray, FloatArray],
        rows: tuple[FloatArray, FloatArray],
    ) -> IntArray | None:
        """Keep the LP's integral values except on the fractional types and `extra` of the
        best types at their lower value and worst at a higher one; solve for those."""
        rounded = np.rint(x)
        movable = fractional.copy()
        if extra:
            low = np.flatnonzero(~fractional & (rounded < cols[1]))
            high = np.flatnonzero(~fractional & (rounded > cols[0]))
            movable[low[np.argsort(-weights[low], kind="stable")][:extra]] = True
            movable[high[np.argsort(weights[high], kind="stable")][:extra]] = True
        lo, hi = cols
        if not extra:  # only round the fractional types up or down
            lo = np.where(fractional, np.maximum(np.floor(x), lo), lo)
            hi = np.where(fractional, np.minimum(np.ceil(x), hi), hi)
        return self._milp(weights, movable, np.where(movable, 0.0, rounded), (lo, hi), rows)

    def _milp(
        self,
        weights: FloatArray,
        movable: np.ndarray,
        settled: FloatArray,
        cols: tuple[FloatArray, FloatArray],
        rows: tuple[FloatArray, FloatArray],
    ) -> IntArray | None:
        free = np.flatnonzero(movable)
        used = self.cons.rows @ settled
        self.milp_solves += 1
        result = optimize.milp(
            -weights[free],
            integrality=np.ones(len(free)),
            bounds=optimize.Bounds(cols[0][free], cols[1][free]),
            constraints=optimize.LinearConstraint(
                self.cons.rows[:, free], rows[0] - used, rows[1] - used
            ),
            options={"disp": False},
        )
        if result.x is None:
            return None
        panel = settled.copy()
        panel[free] = np.rint(result.x)
        return self._checked(panel, cols, rows)

    def _checked(
        self,
        panel: FloatArray,
        cols: tuple[FloatArray, FloatArray],
        rows: tuple[FloatArray, FloatArray],
    ) -> IntArray | None:
        """The panel as integers if it really is one on the face (solver tolerances)."""
        used = self.cons.rows @ panel
        ok = (
            np.all(panel >= cols[0])
            and np.all(panel <= cols[1])
            and np.all(used >= rows[0] - 1e-9)
            and np.all(used <= rows[1] + 1e-9)
        )
        return panel.astype(np.int64) if ok else None

    def step(self, panel: IntArray) -> float:
        """Take as much of `panel` out of the residual as P allows; mark what became tight."""
        cons = self.cons
        v = panel.astype(np.float64)
        r, m = self.residual, self.mass
        used_r = cons.rows @ r
        used_v = cons.rows @ v
        finite = np.isfinite(cons.lower)
        # each constraint a.x <= b: theta (b - a.v) <= m b - a.r (its slack in r)
        slack = [
            r,
            m * cons.sizes - r,
            np.where(finite, used_r - m * np.where(finite, cons.lower, 0.0), np.inf),
            m * cons.upper - used_r,
        ]
        room = [
            v,
            cons.sizes - v,
            np.where(finite, used_v - np.where(finite, cons.lower, 0.0), 0.0),
            cons.upper - used_v,
        ]
        tight = [self.at_zero, self.at_size, self.at_lower, self.at_upper]
        limits = []
        for s, g, t in zip(slack, room, tight, strict=True):
            with np.errstate(divide="ignore", invalid="ignore"):
                limit = np.where((g > 1e-12) & ~t, np.maximum(s, 0.0) / g, np.inf)
            limits.append(limit)
        theta = min(m, *(float(limit.min()) if limit.size else np.inf for limit in limits))
        for limit, t in zip(limits, tight, strict=True):
            t |= limit <= theta * (1.0 + 1e-9) + 1e-15
        self.residual = np.maximum(r - theta * v, 0.0)
        self.mass = m - theta
        return theta

    def ratio(self, floor: FloatArray) -> float:
        """Smallest expected count of the panels so far (renormalised) / `floor`."""
        placed = self.target - self.residual
        wanted = floor > _TIGHT
        if not wanted.any():
            return 1.0
        share = 1.0 - self.mass
        if share <= 0.0:
            return 0.0
        return float((placed[wanted] / (share * floor[wanted])).min())


def decompose(
    inst: Instance,
    target: FloatArray,
    *,
    goal: float,
    floor: FloatArray | None = None,
    deadline: float | None = None,
) -> Decomposition:
    """Panels whose mixture gives every type at least `goal` times its `floor` count.

    `target` (expected counts per type) must lie in P; `floor` defaults to it (LEXIMIN:
    every type near its target), MAXIMIN passes the smallest probability times the sizes.
    A pass stops once the mixture reaches `goal`, when no panel lies on the face (the target
    is not a mixture of panels, or this path missed it: the next pass prefers other panels;
    or rounding at the very end), or at `deadline` (`time.perf_counter`). The best pass is
    returned; the caller checks `ratio`.
    """
    wanted = np.asarray(target if floor is None else floor, dtype=np.float64)
    best: Decomposition | None = None
    lp_solves = milp_solves = 0
    for objective in _OBJECTIVES:
        found = _attempt(inst, target, wanted, objective, goal, deadline)
        lp_solves += found.lp_solves
        milp_solves += found.milp_solves
        if best is None or found.ratio > best.ratio:
            best = found
        if best.ratio >= min(goal, _NUMERIC_LIMIT):
            break  # reached, or as close as the LP's rounding allows: no other path helps
        if deadline is not None and time.perf_counter() > deadline:
            break
    assert best is not None
    return dataclasses.replace(best, lp_solves=lp_solves, milp_solves=milp_solves)


def _attempt(
    inst: Instance,
    target: FloatArray,
    wanted: FloatArray,
    objective: Callable[[FloatArray, float, FloatArray, FloatArray], FloatArray],
    goal: float,
    deadline: float | None,
) -> Decomposition:
    dec = _Decomposer(inst, target, objective)
    panels: list[IntArray] = []
    thetas: list[float] = []
    ratio = 0.0
    # each step makes at least one more constraint tight: a bound on the steps
    for _ in range(2 * (inst.n_types + dec.cons.rows.shape[0])):
        if dec.mass <= _SMALLEST_MASS:
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
        panel = dec.panel_on_face()
        if panel is None:
            break
        theta = dec.step(panel)
        if theta > 0.0:
            panels.append(panel)
            thetas.append(theta)
            ratio = dec.ratio(wanted)
            if ratio >= goal:
                break
    weights = np.array(thetas, dtype=np.float64)
    if weights.size:
        weights /= weights.sum()
    return Decomposition(
        panels=panels,
        weights=weights,
        ratio=ratio,
        lp_solves=dec.lp_solves,
        milp_solves=dec.milp_solves,
    )
