"""Who is missing: registrations compared with target shares, for the invitation phase.

Pure, so the engine can call it from an activity while registration is open (and later
from the status query's data); the shares come from the definition (milieu shares of a
neighbourhood, age bands from the statistics office).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

__all__ = ["GroupGap", "under_represented"]


class GroupGap(BaseModel):
    """One group whose share of registrations is clearly below its target share."""

    model_config = ConfigDict(frozen=True)

    feature: str
    category: str
    target_share: float
    actual_share: float
    registered: int
    missing: int  # further registrations of this group needed to reach the target share


def under_represented(
    registrations: Iterable[Mapping[str, str]],
    targets: Mapping[str, Mapping[str, float]],
    *,
    ratio: float = 0.8,
) -> list[GroupGap]:
    """Groups whose share is below `ratio` times their target share, largest gap first.

    `registrations` are the features of each registrant (e.g. {"age": "16-29"}); a feature
    a registrant did not state does not count for that feature. `missing` solves
    (c + x) / (N + x) >= target for x: how many more of the group would close the gap.
    """
    rows = list(registrations)
    gaps: list[GroupGap] = []
    for feature, shares in targets.items():
        stated = [row[feature] for row in rows if row.get(feature)]
        total = len(stated)
        for category, target in shares.items():
            count = sum(1 for value in stated if value == category)
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
