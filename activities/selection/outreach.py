"""Who is missing: registrations compared with target shares, for the invitation phase.

Pure, so the engine can call it from an activity while registration is open (and later
from the status query's data); the shares come from the definition (milieu shares of a
neighbourhood, age bands from the statistics office).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from activities.selection.model import CategoryQuota, Quotas

__all__ = [
    "GroupGap",
    "WaveGroup",
    "gaps_from_counts",
    "quotas_from_targets",
    "under_represented",
]


class GroupGap(BaseModel):
    """One group whose share of registrations is clearly below its target share."""

    model_config = ConfigDict(frozen=True)

    feature: str
    category: str
    target_share: float
    actual_share: float
    registered: int
    missing: int  # further registrations of this group needed to reach the target share


class WaveGroup(BaseModel):
    """How many letters a missing group was allotted and how many people it could take."""

    model_config = ConfigDict(frozen=True)

    feature: str
    category: str
    missing: int
    allotted: int
    drawn: int


def under_represented(
    registrations: Iterable[Mapping[str, str]],
    targets: Mapping[str, Mapping[str, float]],
    *,
    ratio: float = 0.8,
) -> list[GroupGap]:
    """Groups whose share is below `ratio` times their target share, largest gap first.

    `registrations` are the features of each registrant (e.g. {"age": "16-29"}); a feature
    a registrant did not state does not count for that feature.
    """
    rows = list(registrations)
    counts: dict[str, dict[str, int]] = {}
    for feature in targets:
        per = counts.setdefault(feature, {})
        for row in rows:
            value = row.get(feature)
            if value:
                per[value] = per.get(value, 0) + 1
    return gaps_from_counts(counts, targets, ratio=ratio)


def gaps_from_counts(
    counts: Mapping[str, Mapping[str, int]],
    targets: Mapping[str, Mapping[str, float]],
    *,
    ratio: float = 0.8,
) -> list[GroupGap]:
    """The same from counts per feature and category (what the engine keeps in its state).

    A feature's total is the sum of its counts (people who stated it), including categories
    that have no target. `missing` solves (c + x) / (N + x) >= target for x: how many more
    of the group would close the gap.
    """
    gaps: list[GroupGap] = []
    for feature, shares in targets.items():
        per = counts.get(feature, {})
        total = sum(per.values())
        for category, target in shares.items():
            count = per.get(category, 0)
            actual = count / total if total else 0.0
            if target <= 0 or actual >= ratio * target:
                continue
            missing = math.ceil((target * total - count) / (1 - target) - 1e-9) if target < 1 else 0
            gaps.append(
                GroupGap(
                    feature=feature,
                    category=category,
                    target_share=target,
                    actual_share=actual,
                    registered=count,
                    missing=max(missing, 1),
                )
            )
    gaps.sort(key=lambda g: (g.actual_share / g.target_share, g.feature, g.category))
    return gaps


def quotas_from_targets(
    targets: Mapping[str, Mapping[str, float]], k: int, *, slack: float = 0.1
) -> Quotas:
    """Panel quotas from population shares: share × k, widened by `slack` on either side.

    min = floor(share·k·(1 − slack)), max = ceil(share·k·(1 + slack)), so a panel of k can
    meet every feature whose shares add up to 1 (the definition checks that they do).
    """
    features = {
        feature: {
            category: CategoryQuota(
                min=math.floor(share * k * (1 - slack) + 1e-9),
                max=max(math.ceil(share * k * (1 + slack) - 1e-9), 0),
                target=share,
            )
            for category, share in shares.items()
        }
        for feature, shares in targets.items()
    }
    return Quotas(features=features)
