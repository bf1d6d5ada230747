"""Whether any panel satisfies the quotas, and if not, which quotas conflict and why.

First the arithmetic that a person can check on paper (mins of one feature add up to more
than k, a min above the people available, ...). If that finds nothing, the MILP decides; an
infeasible MILP is explained twice: a minimal set of quota bounds that cannot hold together
(a deletion filter: drop each bound in turn and keep it only if the rest becomes feasible
without it), and the smallest total change of bounds that would make a panel possible (an
elastic MILP with slack on every bound).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import optimize, sparse

from activities.selection.instance import FloatArray, Instance
from activities.selection.panels import best_panel

__all__ = ["FeasibilityReport", "InfeasibleQuotasError", "check_feasibility", "require_feasible"]


class FeasibilityReport(BaseModel):
    """`problems` are plain sentences; `conflicting` names a minimal set of quota bounds."""

    model_config = ConfigDict(frozen=True)

    feasible: bool
    problems: list[str] = []
    conflicting: list[str] = []
    relaxation: list[str] = []

    def explain(self) -> str:
        """One message for people: what conflicts and what would resolve it."""
        lines = ["no panel satisfies the quotas:", *(f"- {p}" for p in self.problems)]
        if self.conflicting:
            lines.append("these quota bounds cannot all hold (a minimal conflicting set):")
            lines.extend(f"- {c}" for c in self.conflicting)
        if self.relaxation:
            lines.append("smallest change that makes a panel possible:")
            lines.extend(f"- {r}" for r in self.relaxation)
        return "\n".join(lines)


class InfeasibleQuotasError(ValueError):
    """No panel of size k satisfies the quotas; `report` says which quotas conflict."""

    def __init__(self, report: FeasibilityReport) -> None:
        super().__init__(report.explain())
        self.report = report


def _structural_problems(inst: Instance) -> list[str]:
    """Problems of size alone, which no change of quotas can fix."""
    problems: list[str] = []
    if inst.k > inst.n:
        problems.append(f"panel size k={inst.k} but the pool has only {inst.n} people")
    if inst.households:
        n_households = inst.n - int(inst.household_rows.sum()) + inst.household_rows.shape[0]
        if inst.k > n_households:
            problems.append(
                f"panel size k={inst.k} but the pool has only {n_households} households "
                "(at most one person per household)"
            )
    return problems


def _quota_problems(inst: Instance) -> list[str]:
    problems: list[str] = []
    available = inst.available()
    position = 0
    for feature, categories in inst.quotas.features.items():
        mins = sum(q.min for q in categories.values())
        caps = 0
        for category, quota in categories.items():
            have = int(available[position])
            label = inst.quotas.label(feature, category)
            if quota.min > have:
                problems.append(f"{label}: min {quota.min} but only {have} people in the pool")
            elif inst.households and quota.min > 0:
                row = inst.cat_matrix[position]
                reach = _households_reaching(inst, row)
                if quota.min > reach:
                    problems.append(
                        f"{label}: min {quota.min} but these people live in only {reach} "
                        "households (at most one person per household)"
                    )
            caps += min(quota.max, have)
            position += 1
        if mins > inst.k:
            problems.append(f"feature {feature!r}: the mins add up to {mins}, more than k={inst.k}")
        if caps < inst.k:
            problems.append(
                f"feature {feature!r}: at most {caps} people can be taken "
                f"(maxes capped by the people available), fewer than k={inst.k}"
            )
    return problems


def _households_reaching(inst: Instance, row: FloatArray) -> int:
    """Distinct households among the people of one category (types are people here)."""
    people = set(np.flatnonzero(row).tolist())
    shared = 0
    for hrow in inst.household_rows:
        inside = len(people.intersection(np.flatnonzero(hrow).tolist()))
        shared += max(inside - 1, 0)
    return len(people) - shared


def _bounds_candidates(inst: Instance) -> list[tuple[int, str]]:
    """Quota bounds that restrict anything: a min above 0, a max below the people available."""
    available = inst.available()
    found: list[tuple[int, str]] = []
    for c in range(len(inst.labels)):
        if inst.lo[c] > 0:
            found.append((c, "min"))
        if inst.hi[c] < available[c]:
            found.append((c, "max"))
    return found


def _feasible_with(inst: Instance, active: list[tuple[int, str]]) -> bool:
    lo = np.zeros_like(inst.lo)
    hi = np.full_like(inst.hi, float(inst.k))
    for c, side in active:
        if side == "min":
            lo[c] = inst.lo[c]
        else:
            hi[c] = inst.hi[c]
    return best_panel(inst, lo=lo, hi=hi) is not None


def _describe(inst: Instance, bound: tuple[int, str]) -> str:
    c, side = bound
    value = int(inst.lo[c] if side == "min" else inst.hi[c])
    return f"{inst.labels[c]} {side} {value}"


def _minimal_conflict(inst: Instance) -> list[str]:
    active = _bounds_candidates(inst)
    for bound in list(active):
        rest = [b for b in active if b != bound]
        if not _feasible_with(inst, rest):
            active = rest
    return [_describe(inst, b) for b in active]


def _relaxation(inst: Instance) -> list[str]:
    """Minimise the total slack on all bounds; name each bound that needs slack."""
    n_types, n_cats = inst.n_types, len(inst.labels)
    # variables: counts (T), slack below mins (C), slack above maxes (C)
    c = np.concatenate([np.zeros(n_types), np.ones(2 * n_cats)])
    eye = np.eye(n_cats)
    a_size = np.concatenate([np.ones(n_types), np.zeros(2 * n_cats)])[None, :]
    a_min = np.hstack([inst.cat_matrix, eye, np.zeros((n_cats, n_cats))])
    a_max = np.hstack([inst.cat_matrix, np.zeros((n_cats, n_cats)), -eye])
    rows = [a_size, a_min, a_max]
    lower = [np.array([float(inst.k)]), inst.lo, np.full(n_cats, -np.inf)]
    upper = [np.array([float(inst.k)]), np.full(n_cats, np.inf), inst.hi]
    if inst.household_rows.shape[0]:
        h = inst.household_rows.shape[0]
        rows.append(np.hstack([inst.household_rows, np.zeros((h, 2 * n_cats))]))
        lower.append(np.full(h, -np.inf))
        upper.append(np.ones(h))
    result = optimize.milp(
        c,
        integrality=np.ones(n_types + 2 * n_cats),
        bounds=optimize.Bounds(
            np.zeros(n_types + 2 * n_cats),
            np.concatenate([inst.sizes.astype(np.float64), np.full(2 * n_cats, np.inf)]),
        ),
        constraints=optimize.LinearConstraint(
            sparse.csr_array(np.vstack(rows)), np.concatenate(lower), np.concatenate(upper)
        ),
        options={"disp": False},
    )
    if result.x is None:  # size k or households alone are impossible; arithmetic said so
        return []
    slack = np.rint(result.x[n_types:]).astype(int)
    changes: list[str] = []
    for c_idx in range(n_cats):
        if slack[c_idx]:
            new = int(inst.lo[c_idx]) - slack[c_idx]
            changes.append(f"{inst.labels[c_idx]}: min {int(inst.lo[c_idx])} -> {new}")
        if slack[n_cats + c_idx]:
            new = int(inst.hi[c_idx]) + slack[n_cats + c_idx]
            changes.append(f"{inst.labels[c_idx]}: max {int(inst.hi[c_idx])} -> {new}")
    return changes


def check_feasibility(inst: Instance) -> FeasibilityReport:
    """Decide whether a panel exists; if not, say which quotas conflict."""
    structural = _structural_problems(inst)
    if structural:
        return FeasibilityReport(feasible=False, problems=structural)
    problems = _quota_problems(inst)
    if not problems and best_panel(inst) is not None:
        return FeasibilityReport(feasible=True)
    if not problems:
        problems = [f"no combination of {inst.k} people meets all quotas at once"]
    return FeasibilityReport(
        feasible=False,
        problems=problems,
        conflicting=_minimal_conflict(inst),
        relaxation=_relaxation(inst),
    )


def require_feasible(inst: Instance) -> None:
    """Raise `InfeasibleQuotasError` with the explanation if no panel exists."""
    report = check_feasibility(inst)
    if not report.feasible:
        raise InfeasibleQuotasError(report)
