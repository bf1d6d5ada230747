"""MAXIMIN and LEXIMIN selection probabilities by column generation (Flanigan et al. 2021).

Written from the paper's description, not from any existing implementation.

A distribution over feasible panels gives each person a selection probability. MAXIMIN
maximises the smallest; LEXIMIN then maximises the second smallest without lowering the
first, and so on. There are far too many panels to list, so we keep a small set of them:

- the master LP (one `highspy` model re-solved warm, `master_highs`) finds the best
  distribution over the panels we have:
  maximise z such that every person not yet fixed has probability >= z and every fixed
  person keeps at least their fixed probability;
- its duals y (one per person, >= 0, summing to 1 over the people not fixed) price a panel
  as the y-weighted sum of its members; the pricing MILP (`best_panel`) finds the panel of
  highest price. If it beats the best price among our panels, it would raise z: add it and
  solve again. If not (within `tolerance`), the LP value is optimal for all panels;
- LEXIMIN: people whose dual is positive have probability exactly z in every optimal
  distribution (complementary slackness), so their probability is fixed at z and the
  next round maximises the minimum over the rest, until everybody is fixed.

People of one type (same categories everywhere) are interchangeable, so the LP works on
types: a panel is a count per type, and a type's probability is its expected count divided
by its size.

Before any of that, both methods try the shortcut: the same problem over the LP relaxation
of the panel polytope (`relaxed`) bounds every distribution, and when its optimum is a
mixture of panels (quota polytopes nearly always allow it) `decompose` finds that mixture
panel by panel, a few dozen MILPs instead of hundreds of column generation rounds. Column
generation runs only where that falls short, starting from the panels found.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Protocol

import numpy as np

from activities.selection.instance import FloatArray, Instance, IntArray
from activities.selection.panels import best_panel, swap_neighbours
from activities.selection.relaxed import relaxed_level, relaxed_leximin_counts

__all__ = ["Distribution", "leximin", "maximin"]

DEFAULT_TOLERANCE = 1e-3  # relative gap between z and its proven upper bound
_DUAL_POSITIVE = 1e-6
_SMOOTHING = 0.9
_NEIGHBOUR_SLACK = 3e-3
_MAX_AGE = 10


class _Master(Protocol):
    def add(self, columns: list[IntArray]) -> None: ...
    def keep(self, indices: list[int]) -> None: ...
    def basic(self) -> np.ndarray: ...
    def set_scale(self, scale: FloatArray) -> None: ...
    def solve(
        self, fixed: np.ndarray, floor: FloatArray
    ) -> tuple[float, FloatArray, FloatArray]: ...


class _Pricer(Protocol):
    def best(self, weights: FloatArray) -> IntArray | None: ...


class _MilpPricer:
    """Every pricing problem by the full MILP (the path without highspy)."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst

    def best(self, weights: FloatArray) -> IntArray | None:
        return best_panel(self.inst, weights)


def _new_solvers(inst: Instance, scale: FloatArray, backend: str) -> tuple[_Master, _Pricer]:
    """highspy's warm master and LP-first pricing, or SciPy's cold master and MILP pricing
    (without highspy, or when asked for, as the reference the fast path is checked against).
    """
    if backend == "highs":
        try:
            from activities.selection.master_highs import HighsMaster
            from activities.selection.master_pricing import LpFirstPricer
        except ImportError:  # highspy missing: the slower SciPy path gives the same answers
            backend = "scipy"
        else:
            return HighsMaster(inst.n_types, scale), LpFirstPricer(inst)
    if backend != "scipy":
        msg = f"master: expected 'highs' or 'scipy', got {backend!r}"
        raise ValueError(msg)
    from activities.selection.master_scipy import ScipyMaster

    return ScipyMaster(inst.n_types, scale), _MilpPricer(inst)


@dataclasses.dataclass(frozen=True, eq=False)
class Distribution:
    """Panels (counts per type) with their probabilities, and what it cost to find them."""

    panels: IntArray  # (P, T)
    weights: FloatArray  # (P,), sums to 1
    type_probs: FloatArray  # (T,)
    rounds: int
    lp_solves: int
    milp_solves: int
    seconds: float
    complete: bool = True  # False: LEXIMIN stopped at its time limit after `rounds` levels


class _ColumnGeneration:
    def __init__(
        self, inst: Instance, tolerance: float, backend: str = "highs", *, decompose: bool = True
    ) -> None:
        self.inst = inst
        # the SciPy backend stands for the path without highspy, which `decompose` needs
        self.decompose = decompose and backend == "highs"
        self.tolerance = tolerance
        self.columns: list[IntArray] = []
        self._seen: set[bytes] = set()
        self._age: list[int] = []
        self.timed_out = False
        self.lp_solves = 0
        self.milp_solves = 0
        self.never: np.ndarray = np.zeros(inst.n_types, dtype=bool)
        # what a type's expected count is divided by in "every free type >= z": its size
        # (z is a probability), or its size times a target probability (z is a ratio)
        self.scale: FloatArray = inst.sizes.astype(np.float64)
        self.master, self.pricer = _new_solvers(inst, self.scale, backend)

    def set_scale(self, scale: FloatArray) -> None:
        self.scale = scale
        self.master.set_scale(scale)

    def add(self, counts: IntArray) -> bool:
        return self.add_all([counts]) == 1

    def add_all(self, panels: list[IntArray]) -> int:
        """Add the panels not seen yet (to the master too, in one batch); how many."""
        new: list[IntArray] = []
        for counts in panels:
            key = counts.tobytes()
            if key in self._seen:
                continue
            self._seen.add(key)
            new.append(counts)
        self.columns.extend(new)
        self._age.extend([0] * len(new))
        self.master.add(new)
        return len(new)

    def price(self, weights: FloatArray) -> IntArray:
        self.milp_solves += 1
        counts = self.pricer.best(weights)
        if counts is None:
            msg = "no feasible panel (run the feasibility check first)"
            raise ValueError(msg)
        return counts

    def cover(self) -> None:
        """Start with panels that together contain every type that any panel can contain."""
        covered = np.zeros(self.inst.n_types, dtype=bool)
        while True:
            open_types = ~covered & ~self.never
            if not open_types.any():
                return
            # weight 1 per type (not per person), so one panel reaches many open types
            counts = self.price(open_types / self.inst.sizes)
            reached = (counts > 0) & open_types
            self.add(counts)
            if not reached.any():
                # the optimum of the MILP is 0: no panel contains any open type
                self.never |= open_types
                return
            covered |= counts > 0

    def solve_master(
        self, fixed: np.ndarray, floor: FloatArray
    ) -> tuple[float, FloatArray, FloatArray]:
        """Best z over the current panels; returns (z, panel weights, duals per type)."""
        self.lp_solves += 1
        return self.master.solve(fixed, floor)

    def relaxation_duals(self, fixed: np.ndarray, floor: FloatArray) -> tuple[float, FloatArray]:
        """Value and duals of the same problem over the LP relaxation of the panel polytope.

        The value bounds the real optimum from above (every distribution's expected counts
        lie in the relaxation), often far more tightly than the pricing bound early on, so
        column generation may stop as soon as z is within the tolerance of it.

        Expected counts e with sum k and quota bounds, every free type at e_t / scale_t >= z:
        its duals are a (near) optimal dual of the real problem whenever the relaxation is
        (near) integral, which quota polytopes are in practice, so they steer the pricing
        from the first round instead of after hundreds of oscillating ones.
        """
        self.lp_solves += 1
        value, _, duals = relaxed_level(self.inst, fixed, floor, self.never, self.scale)
        return value, duals

    def prune(self, weights: FloatArray) -> None:
        """Forget panels unused for `_MAX_AGE` master solves: they only slow the LP down."""
        self._age = [0 if w > 1e-12 else a + 1 for a, w in zip(self._age, weights, strict=True)]
        basic = self.master.basic()  # dropping a basic panel would cost the warm start
        keep = [j for j, a in enumerate(self._age) if a <= _MAX_AGE or basic[j]]
        if len(keep) < len(self.columns):
            self.columns = [self.columns[j] for j in keep]
            self._age = [self._age[j] for j in keep]
            self._seen = {c.tobytes() for c in self.columns}
            self.master.keep(keep)

    def stage(
        self,
        fixed: np.ndarray,
        floor: FloatArray,
        deadline: float | None = None,
        goal: float | None = None,
    ) -> tuple[float, FloatArray, FloatArray]:
        """Column generation until z is within the tolerance of the best upper bound
        (or reaches `goal`).

        Returns z, the panel weights and the dual that proves the bound. Pricing uses a
        smoothed dual (Wentges): mostly the best dual seen so far (first the relaxation's),
        a little of the master's current dual to steer towards what the master lacks. Any
        dual with sum 1 over the free types bounds the optimum from above: the highest
        weighted sum of any panel minus what the fixed floors take.
        """
        inv_sizes = 1.0 / self.scale
        relaxed, center = self.relaxation_duals(fixed, floor)
        first = self.price(center * inv_sizes)
        self.add(first)
        priced = float(first @ (center * inv_sizes)) - float(center[fixed] @ floor[fixed])
        best_ub = min(priced, relaxed)
        alpha = _SMOOTHING
        while True:
            z, weights, duals = self.solve_master(fixed, floor)
            if best_ub - z <= self.tolerance * max(best_ub, 1e-9):
                return z, weights, center
            if goal is not None and z >= goal:
                return z, weights, center
            if deadline is not None and time.perf_counter() > deadline:
                self.timed_out = True  # the master's weights still honour every floor
                return z, weights, center
            self.prune(weights)
            mixed = alpha * center + (1.0 - alpha) * duals
            unit = mixed * inv_sizes
            candidate = self.price(unit)
            price = float(candidate @ unit)
            bound = price - float(mixed[fixed] @ floor[fixed])
            if bound < best_ub:
                best_ub = bound
            if bound < priced:
                priced, center = bound, mixed
            if candidate.tobytes() not in self._seen:
                neighbours = swap_neighbours(
                    self.inst, candidate, unit, price * (1.0 - _NEIGHBOUR_SLACK)
                )
                self.add_all([candidate, *neighbours])
            elif alpha > 0.01:
                alpha /= 2  # mispriced (nothing new): trust the master's dual more
            else:
                # the master's own dual priced every panel: its z is optimal
                z, weights, duals = self.solve_master(fixed, floor)
                return z, weights, np.asarray(duals)

    def realise(
        self, target: FloatArray, goal: float, floor: FloatArray, deadline: float | None
    ) -> tuple[float, list[IntArray], FloatArray]:
        """Decompose the expected counts `target` into panels (`decompose`): the mixture's
        ratio to `floor`, its panels and weights. Without highspy: ratio 0, no panels."""
        if not self.decompose:
            return 0.0, [], np.zeros(0)
        try:
            from activities.selection.decompose import decompose
        except ImportError:  # highspy missing: column generation alone gets there
            return 0.0, [], np.zeros(0)
        found = decompose(self.inst, target, goal=goal, floor=floor, deadline=deadline)
        self.lp_solves += found.lp_solves
        self.milp_solves += found.milp_solves
        return found.ratio, found.panels, found.weights

    def mixture(
        self, panels: list[IntArray], weights: FloatArray, rounds: int, started: float
    ) -> Distribution:
        """A distribution straight from panels and weights (merging repeated panels)."""
        merged: dict[bytes, tuple[IntArray, float]] = {}
        for panel, weight in zip(panels, weights.tolist(), strict=True):
            key = panel.tobytes()
            merged[key] = (panel, merged[key][1] + weight if key in merged else weight)
        stacked = np.array([p for p, _ in merged.values()], dtype=np.int64)
        kept = np.array([w for _, w in merged.values()], dtype=np.float64)
        kept /= kept.sum()
        return Distribution(
            panels=stacked,
            weights=kept,
            type_probs=(kept @ stacked) / self.inst.sizes,
            rounds=rounds,
            lp_solves=self.lp_solves,
            milp_solves=self.milp_solves,
            seconds=time.perf_counter() - started,
        )

    def finish(
        self, weights: FloatArray, rounds: int, started: float, *, complete: bool = True
    ) -> Distribution:
        weights = np.where(weights > 1e-12, weights, 0.0)
        weights = weights / weights.sum()
        keep = weights > 0
        panels = np.array(self.columns, dtype=np.int64)[keep]
        kept = weights[keep]
        type_probs = (kept @ panels) / self.inst.sizes
        return Distribution(
            panels=panels,
            weights=kept,
            type_probs=type_probs,
            rounds=rounds,
            lp_solves=self.lp_solves,
            milp_solves=self.milp_solves,
            seconds=time.perf_counter() - started,
            complete=complete,
        )


def maximin(
    inst: Instance,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    master: str = "highs",
    decompose: bool = True,
) -> Distribution:
    """A distribution maximising the smallest selection probability among selectable people.

    First the relaxation's optimum is decomposed into panels (`decompose`); where that
    reaches (1 - tolerance) of the relaxation's value, which bounds every distribution's,
    it is the answer, else column generation continues from those panels.
    `decompose=False` (and `master="scipy"`, the path without highspy) skip that step.

    People whom no feasible panel contains keep probability 0 and are left out of the
    minimum (otherwise every distribution would be maximin with value 0). `master` picks the
    master LP: "highs" (warm-started highspy; SciPy if that is missing) or "scipy" (cold).
    """
    started = time.perf_counter()
    gen = _ColumnGeneration(inst, tolerance, master, decompose=decompose)
    gen.cover()
    floor = np.zeros(inst.n_types)
    if not gen.never.all():
        # the relaxation's optimum bounds z from above; if its expected counts are a
        # mixture of panels up to the tolerance, that mixture is MAXIMIN
        sizes = inst.sizes.astype(np.float64)
        bound, counts, _ = relaxed_level(inst, gen.never, floor, gen.never, sizes)
        gen.lp_solves += 1
        wanted = np.where(gen.never, 0.0, bound * sizes)
        ratio, panels, mix = gen.realise(counts, 1.0 - tolerance, wanted, None)
        if ratio >= 1.0 - tolerance:
            return gen.mixture(panels, mix, 1, started)
        gen.add_all(panels)  # column generation goes on from them
    _, weights, _ = gen.stage(gen.never.copy(), floor)
    return gen.finish(weights, 1, started)


def leximin(
    inst: Instance,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    time_limit: float | None = None,
    exact: bool = False,
    master: str = "highs",
    decompose: bool = True,
) -> Distribution:
    """The leximin distribution: raise the lowest probabilities one level at a time.

    First the fast way: the leximin of the LP relaxation (`relaxed`) is computed level by
    level with small LPs, and a distribution is sought that gives every type at least
    (1 - tolerance) of its relaxed probability: first by decomposing the relaxed expected
    counts into panels (`decompose`), then, if that falls short, by one column generation
    from those panels. Since the relaxed profile is at least as good as any distribution's
    in leximin order, reaching it settles LEXIMIN up to the tolerance. Only when the quota
    polytope has an integrality gap that prevents this does the exact method run: one
    column generation per level, fixing the types whose duals are positive, with the panels
    found so far.

    With `time_limit` (seconds) the shortcut gets at most half of it, and the exact method
    stops once the limit has passed (its first level always completes); the distribution is
    then MAXIMIN-optimal and leximin for the levels fixed so far (`complete=False`): still
    valid, and never worse than MAXIMIN.
    `exact=True` skips the relaxation shortcut (for comparison and tests), `decompose=False`
    the decomposition in it. `master="scipy"` solves the master LP cold with SciPy and
    skips the decomposition: the fallback without highspy, for comparison.
    """
    started = time.perf_counter()
    gen = _ColumnGeneration(inst, tolerance, master, decompose=decompose)
    gen.cover()
    sizes = inst.sizes.astype(np.float64)
    if not exact and not gen.never.all():
        target, counts, levels = relaxed_leximin_counts(inst, gen.never)
        gen.lp_solves += levels
        # half the time limit at most: the exact levels below must still get their turn
        shortcut_deadline = None if time_limit is None else started + time_limit / 2
        ratio, panels, mix = gen.realise(counts, 1.0 - tolerance, counts, shortcut_deadline)
        if ratio >= 1.0 - tolerance:
            return gen.mixture(panels, mix, levels, started)
        # not (yet) a mixture of panels: column generation towards the same profile,
        # starting from the panels found
        gen.add_all(panels)
        gen.set_scale(np.where(gen.never, sizes, np.maximum(target, 1e-12) * sizes))
        ratio, weights, _ = gen.stage(
            gen.never.copy(), np.zeros(inst.n_types), shortcut_deadline, goal=1.0 - tolerance
        )
        if ratio >= 1.0 - tolerance:
            return gen.finish(weights, levels, started)
        # an integrality gap, or out of time: the exact levels, keeping the panels
        gen.set_scale(sizes)
        gen.timed_out = False
    return _exact_leximin(gen, started, time_limit)


def _exact_leximin(
    gen: _ColumnGeneration, started: float, time_limit: float | None
) -> Distribution:
    inst = gen.inst
    fixed = gen.never.copy()
    floor = np.zeros(inst.n_types)
    rounds = 0
    weights = np.zeros(0)
    deadline = None if time_limit is None else started + time_limit
    while not fixed.all():
        # the first level (MAXIMIN) always finishes; later ones stop at the deadline
        rounds += 1
        z, weights, duals = gen.stage(fixed, floor, deadline if rounds > 1 else None)
        if gen.timed_out or (deadline is not None and time.perf_counter() > deadline):
            break
        tight = ~fixed & (duals > _DUAL_POSITIVE)
        if not tight.any():  # numerically flat duals: fix the largest, which is tight
            tight = np.zeros_like(fixed)
            tight[int(np.argmax(np.where(fixed, -1.0, duals)))] = True
        # a hair below z keeps the next LP feasible despite rounding in the solver
        floor[tight] = max(z - 1e-9, 0.0)
        fixed |= tight
    if weights.size == 0:  # nobody can be selected: the cover panel is all there is
        weights = np.ones(len(gen.columns)) / len(gen.columns)
    return gen.finish(weights, rounds, started, complete=bool(fixed.all()) and not gen.timed_out)
