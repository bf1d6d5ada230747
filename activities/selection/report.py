"""What a selection report says: probabilities, quota fulfilment, panel vs pool vs targets.

Models only and the arithmetic behind them; rendering (tables, plots) is elsewhere. The
`SelectionAudit` part holds no personal data and is what the audit trail stores.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from activities.selection.instance import FloatArray, Instance
from activities.selection.model import Method

__all__ = [
    "ProbabilityStats",
    "QuotaRow",
    "SelectionAudit",
    "SelectionReport",
    "gini",
    "panel_hash",
    "pool_hash",
    "probability_stats",
    "quota_rows",
    "quotas_hash",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def gini(values: FloatArray) -> float:
    """Gini coefficient: 0 when everybody has the same chance, towards 1 when few have all."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    total = float(x.sum())
    if x.size == 0 or total <= 0:
        return 0.0
    ranks = np.arange(1, x.size + 1)
    return float(2.0 * np.sum(ranks * x) / (x.size * total) - (x.size + 1) / x.size)


class ProbabilityStats(_Model):
    minimum: float
    maximum: float
    mean: float
    gini: float
    never_selectable: int  # people whom no panel that meets the quotas can contain


def probability_stats(probs: FloatArray) -> ProbabilityStats:
    """Summary of per-person selection probabilities."""
    return ProbabilityStats(
        minimum=float(probs.min()),
        maximum=float(probs.max()),
        mean=float(probs.mean()),
        gini=gini(probs),
        never_selectable=int(np.sum(probs <= 1e-9)),
    )


class QuotaRow(_Model):
    """One category: its bounds, the pool, the drawn panel, the expectation, the target."""

    feature: str
    category: str
    min: int
    max: int
    pool: int
    pool_share: float
    panel: int
    panel_share: float
    expected: float  # expected panel members under the distribution
    target: float | None  # population share from the quota file, if given
    fulfilled: bool


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


class SelectionReport(_Model):
    method: Method
    k: int
    pool_size: int
    households: bool
    seed: str
    seed_digest: str
    distribution_hash: str | None  # None for the legacy method, which has no distribution
    panels_in_support: int
    probabilities: ProbabilityStats
    legacy: ProbabilityStats | None  # estimated by repeated greedy runs, when asked for
    legacy_runs: int
    quotas: list[QuotaRow]
    seconds: float
    rounds: int
    lp_solves: int
    milp_solves: int
    complete: bool = True  # False: LEXIMIN stopped at its time limit (still >= MAXIMIN)
    tolerance: float = 0.0  # relative optimality gap the optimisation stopped at

    @property
    def all_quotas_met(self) -> bool:
        return all(row.fulfilled for row in self.quotas)


class SelectionAudit(_Model):
    """What the audit trail keeps of a selection: enough to verify it, no personal data."""

    method: Method
    k: int
    pool_size: int
    seed: str
    seed_digest: str
    distribution_hash: str | None
    pool_hash: str
    quotas_hash: str
    panel_hash: str

    def event_payload(self) -> dict[str, Any]:
        """Payload for an `EventRecord` of type `selection.drawn`."""
        return self.model_dump(mode="json")


def _sha256_json(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def pool_hash(inst: Instance) -> str:
    """SHA-256 of the pool as used (ids, categories, households; sorted by id)."""
    return _sha256_json([[p.id, p.features, p.household] for p in inst.people])


def quotas_hash(inst: Instance) -> str:
    return _sha256_json(inst.quotas.model_dump(mode="json"))


def panel_hash(ids: list[str]) -> str:
    """SHA-256 of the sorted panel ids: lets a published panel be checked against the log."""
    return _sha256_json(sorted(ids))
