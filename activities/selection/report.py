"""What a selection report says: probabilities, quota fulfilment, panel vs pool vs targets.

Models only (pydantic, no numpy: the worker imports them at start-up), and the hashes
that identify pool, quotas and panel; the arithmetic is in `stats`, rendering (tables,
plots) elsewhere. The `SelectionAudit` part holds no personal data and is what the audit
trail stores.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from activities.selection.model import Method

if TYPE_CHECKING:
    from activities.selection.instance import Instance

__all__ = [
    "ProbabilityStats",
    "QuotaRow",
    "SelectionAudit",
    "SelectionOutcome",
    "SelectionReport",
    "panel_hash",
    "pool_hash",
    "quotas_hash",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProbabilityStats(_Model):
    minimum: float
    maximum: float
    mean: float
    gini: float
    never_selectable: int  # people whom no panel that meets the quotas can contain


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


class SelectionOutcome(BaseModel):
    """Everything one selection produced: what the CLI prints and the activity returns."""

    model_config = ConfigDict(frozen=True)

    panel: list[str]  # person ids, sorted
    probabilities: dict[str, float]  # person id -> selection probability
    legacy_probabilities: dict[str, float] | None
    distribution: dict[str, Any] | None  # published form, see `draw`
    report: SelectionReport
    audit: SelectionAudit
