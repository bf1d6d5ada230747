"""The arithmetic of a selection report: probability summary, Gini, quota fulfilment.

Apart from the report models (`report`) because it needs numpy, and the models travel as
activity payloads that the worker imports at start-up.
"""

from __future__ import annotations

import numpy as np

from activities.selection.instance import FloatArray, Instance
from activities.selection.report import ProbabilityStats, QuotaRow

__all__ = ["gini", "probability_stats", "quota_rows"]


def gini(values: FloatArray) -> float:
    """Gini coefficient: 0 when everybody has the same chance, towards 1 when few have all."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    total = float(x.sum())
    if x.size == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, x.size + 1)
    return float(2.0 * np.sum(ranks * x) / (x.size * total) - (x.size + 1) / x.size)


def probability_stats(probs: FloatArray) -> ProbabilityStats:
    """Summary of per-person selection probabilities."""
    return ProbabilityStats(
        minimum=float(probs.min()),
        maximum=float(probs.max()),
        mean=float(probs.mean()),
        gini=gini(probs),
        never_selectable=int(np.sum(probs <= 1e-9)),
    )


def quota_rows(inst: Instance, panel: list[int], probs: FloatArray) -> list[QuotaRow]:
    """Quota fulfilment of `panel` (person indices) and the comparison with pool and targets."""
    in_panel = np.zeros(inst.n)
    in_panel[panel] = 1.0
    person_cats = inst.cat_matrix[:, inst.type_of]  # (C, n)
    pool_counts = person_cats.sum(axis=1)
    panel_counts = person_cats @ in_panel
    expected = person_cats @ probs
    rows: list[QuotaRow] = []
    c = 0
    for feature, categories in inst.quotas.features.items():
        for category, quota in categories.items():
            have = int(np.rint(panel_counts[c]))
            rows.append(
                QuotaRow(
                    feature=feature,
                    category=category,
                    min=quota.min,
                    max=quota.max,
                    pool=int(pool_counts[c]),
                    pool_share=float(pool_counts[c] / inst.n),
                    panel=have,
                    panel_share=have / max(len(panel), 1),
                    expected=float(expected[c]),
                    target=quota.target,
                    fulfilled=quota.min <= have <= quota.max,
                )
            )
            c += 1
    return rows
