"""Small instances and a brute-force reference for the selection tests."""

from __future__ import annotations

import itertools

import numpy as np
from scipy import optimize

from activities.selection.instance import Instance
from activities.selection.model import CategoryQuota, Person, Quotas


def quotas(spec: dict[str, dict[str, tuple[int, int]]]) -> Quotas:
    """`{"gender": {"f": (1, 2)}}` -> Quotas."""
    return Quotas(
        features={
            f: {c: CategoryQuota(min=lo, max=hi) for c, (lo, hi) in cats.items()}
            for f, cats in spec.items()
        }
    )


def people(rows: list[dict[str, str]], households: list[str] | None = None) -> list[Person]:
    return [
        Person(id=f"p{i:02d}", features=row, household=households[i] if households else None)
        for i, row in enumerate(rows)
    ]


def all_panels(inst: Instance) -> np.ndarray:
    """Every feasible panel as a 0/1 row per person (people in `inst.people` order)."""
    person_cats = inst.cat_matrix[:, inst.type_of]
    house = {}
    for i, person in enumerate(inst.people):
        house[i] = person.household or f"solo-{i}"
    found = []
    for combo in itertools.combinations(range(inst.n), inst.k):
        if inst.households and len({house[i] for i in combo}) < len(combo):
            continue
        x = np.zeros(inst.n)
        x[list(combo)] = 1.0
        counts = person_cats @ x
        if np.all(counts >= inst.lo) and np.all(counts <= inst.hi):
            found.append(x)
    return np.array(found)


def _best(
    panels: np.ndarray, fixed: dict[int, float], free: list[int], target: int | None
) -> float:
    """max z (or, with target, max prob of one person with free >= z fixed via `fixed`)."""
    n_panels = panels.shape[0]
    cost = np.zeros(n_panels + 1)
    cost[-1] = -1.0
    rows, rhs = [], []
    for i, p in fixed.items():
        rows.append(np.concatenate([-panels[:, i], [0.0]]))
        rhs.append(-p)
    for i in free:
        rows.append(np.concatenate([-panels[:, i], [1.0]]))
        rhs.append(0.0)
    result = optimize.linprog(
        cost,
        A_ub=np.array(rows) if rows else None,
        b_ub=np.array(rhs) if rhs else None,
        A_eq=np.concatenate([np.ones(n_panels), [0.0]])[None, :],
        b_eq=[1.0],
        bounds=[(0, None)] * n_panels + [(None, 1.0)],
        method="highs",
    )
    assert result.status == 0
    return float(result.x[-1])


def brute_maximin(panels: np.ndarray) -> float:
    """The maximin value over all panels (people never in a panel excluded)."""
    reachable = [i for i in range(panels.shape[1]) if panels[:, i].any()]
    return _best(panels, {}, reachable, None)


def brute_leximin(panels: np.ndarray) -> np.ndarray:
    """Textbook leximin: fix the people who cannot exceed the current level, per person LP."""
    n = panels.shape[1]
    fixed: dict[int, float] = {i: 0.0 for i in range(n) if not panels[:, i].any()}
    while len(fixed) < n:
        free = [i for i in range(n) if i not in fixed]
        z = _best(panels, fixed, free, None)
        newly = []
        for i in free:
            others = {**fixed, **{j: z - 1e-9 for j in free if j != i}}
            if _best(panels, others, [i], None) <= z + 1e-7:
                newly.append(i)
        assert newly
        for i in newly:
            fixed[i] = z
    return np.array([fixed[i] for i in range(n)])
