"""The greedy "legacy" draw, as a baseline for the fair methods.

Seat by seat it looks at the categories whose minimum is not yet met, takes the one that
needs the largest share of its remaining people, and picks a person of it uniformly at
random (anyone remaining if every minimum is met). People whose categories are full, and
housemates of selected people, drop out. A run that gets stuck starts again. It meets the
quotas but gives some people much lower chances than necessary; its probabilities have no
formula, so `estimate_probabilities` repeats it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from activities.selection.instance import FloatArray, Instance

__all__ = ["LegacyStuckError", "estimate_probabilities", "legacy_draw"]

MAX_ATTEMPTS = 100


class LegacyStuckError(RuntimeError):
    """The greedy method found no panel in `MAX_ATTEMPTS` tries."""


class _Layout:
    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.member = inst.cat_matrix[:, inst.type_of] > 0  # (C, n) person in category
        self.member_f = self.member.astype(np.float64)
        self.house = np.full(inst.n, -1, dtype=np.int64)
        for h, row in enumerate(inst.household_rows):
            self.house[np.flatnonzero(row)] = h  # types are people when households are on


def _attempt(layout: _Layout, below: Callable[[int], int]) -> list[int] | None:
    inst = layout.inst
    available = np.ones(inst.n, dtype=bool)
    taken = np.zeros(len(inst.labels))
    selected: list[int] = []
    for _ in range(inst.k):
        left = layout.member_f @ available  # people still available per category
        need = inst.lo - taken
        if np.any((need > 0) & (left < need)):
            return None
        wanting = need > 0
        if wanting.any():
            ratio = np.where(wanting, need / np.maximum(left, 1), -1.0)
            pool = np.flatnonzero(available & layout.member[int(np.argmax(ratio))])
        else:
            pool = np.flatnonzero(available)
        if pool.size == 0:
            return None
        person = int(pool[below(int(pool.size))])
        selected.append(person)
        available[person] = False
        taken += layout.member_f[:, person]
        for full in np.flatnonzero(layout.member[:, person] & (taken >= inst.hi)):
            available &= ~layout.member[full]
        if layout.house[person] >= 0:
            available[layout.house == layout.house[person]] = False
    if np.any(taken < inst.lo) or np.any(taken > inst.hi):
        return None
    return sorted(selected)


def legacy_draw(inst: Instance, below: Callable[[int], int]) -> list[int]:
    """Person indices of one greedy panel; `below(m)` supplies uniform integers in [0, m)."""
    layout = _Layout(inst)
    for _ in range(MAX_ATTEMPTS):
        panel = _attempt(layout, below)
        if panel is not None:
            return panel
    msg = f"the greedy method found no panel in {MAX_ATTEMPTS} attempts"
    raise LegacyStuckError(msg)


def estimate_probabilities(inst: Instance, runs: int, *, seed: int = 0) -> FloatArray:
    """Per-person selection frequencies over `runs` greedy draws (a Monte Carlo estimate)."""
    layout = _Layout(inst)
    rng = np.random.default_rng(seed)

    def below(m: int) -> int:
        return int(rng.integers(m))

    counts = np.zeros(inst.n)
    done = 0
    failures = 0
    while done < runs:
        panel = _attempt(layout, below)
        if panel is None:
            failures += 1
            if failures > MAX_ATTEMPTS * max(runs, 1):
                msg = "the greedy method keeps getting stuck on these quotas"
                raise LegacyStuckError(msg)
            continue
        counts[panel] += 1
        done += 1
    result: FloatArray = counts / runs
    return result
