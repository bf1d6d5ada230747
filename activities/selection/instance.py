"""The numeric form of a selection problem: people grouped into interchangeable types.

People with the same categories in every feature are interchangeable for the quotas, and a
fair (leximin) solution gives them equal probabilities, so the optimisation works on types
and counts how many of each type a panel takes. That shrinks the pricing MILP and the master
LP from people to types. With the household rule people are no longer interchangeable (an
address couples them), so every person is a type of their own and each household with two or
more people adds a row "at most one of these".
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from activities.selection.model import Person, Quotas

__all__ = ["Instance", "build_instance"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclasses.dataclass(frozen=True, eq=False)
class Instance:
    """A pool, its quotas and panel size as arrays; people sorted by id (canonical order)."""

    k: int
    quotas: Quotas
    people: tuple[Person, ...]
    type_of: IntArray  # (n,) type index of each person
    members: tuple[tuple[int, ...], ...]  # person indices of each type, ascending
    sizes: IntArray  # (T,) people per type
    labels: tuple[str, ...]  # (C,) "feature=category"
    cat_matrix: FloatArray  # (C, T) 1 where the type belongs to the category
    lo: FloatArray  # (C,)
    hi: FloatArray  # (C,)
    household_rows: FloatArray  # (H, T) one row per household of two or more people
    households: bool

    @property
    def n(self) -> int:
        return len(self.people)

    @property
    def n_types(self) -> int:
        return len(self.members)

    def available(self) -> IntArray:
        """People per category in the pool."""
        return np.rint(self.cat_matrix @ self.sizes).astype(np.int64)

    def person_probabilities(self, type_probs: FloatArray) -> FloatArray:
        """Spread type probabilities to people (equal within a type)."""
        return type_probs[self.type_of]


def build_instance(people: list[Person], quotas: Quotas, k: int, *, households: bool) -> Instance:
    """Group `people` into types and lay out the quota constraints."""
    if k < 1:
        msg = f"panel size k={k}: expected at least 1"
        raise ValueError(msg)
    ordered = tuple(sorted(people, key=lambda p: p.id))
    categories = quotas.categories()
    index = {pair: i for i, pair in enumerate(categories)}
    keys = [tuple(p.features[f] for f in quotas.features) for p in ordered]
    if households:
        type_keys: list[tuple[str, ...]] = keys
        type_of = np.arange(len(ordered), dtype=np.int64)
    else:
        type_keys = sorted(set(keys))
        position = {key: t for t, key in enumerate(type_keys)}
        type_of = np.array([position[key] for key in keys], dtype=np.int64)
    members_lists: list[list[int]] = [[] for _ in type_keys]
    for slot, t in enumerate(type_of.tolist()):
        members_lists[t].append(slot)
    cat_matrix = np.zeros((len(categories), len(type_keys)))
    for t, key in enumerate(type_keys):
        for feature, category in zip(quotas.features, key, strict=True):
            cat_matrix[index[(feature, category)], t] = 1.0
    rows: list[FloatArray] = []
    if households:
        by_household: dict[str, list[int]] = {}
        for i, person in enumerate(ordered):
            by_household.setdefault(person.household or f"\x00{person.id}", []).append(i)
        for group in sorted(by_household.values()):
            if len(group) > 1:
                row = np.zeros(len(type_keys))
                row[group] = 1.0
                rows.append(row)
    household_rows = np.array(rows) if rows else np.zeros((0, len(type_keys)))
    return Instance(
        k=k,
        quotas=quotas,
        people=ordered,
        type_of=type_of,
        members=tuple(tuple(m) for m in members_lists),
        sizes=np.array([len(m) for m in members_lists], dtype=np.int64),
        labels=tuple(quotas.label(f, c) for f, c in categories),
        cat_matrix=cat_matrix,
        lo=np.array([float(quotas.features[f][c].min) for f, c in categories]),
        hi=np.array([float(quotas.features[f][c].max) for f, c in categories]),
        household_rows=household_rows,
        households=households,
    )
