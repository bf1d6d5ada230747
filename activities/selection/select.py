"""One selection from start to end: check, optimise, draw, report. Pure computation.

This is what the CLI and the activity call. It returns the panel, everybody's probability,
the published distribution (so the draw can be verified) and the audit summary.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

from activities.selection import draw, legacy
from activities.selection.fair import DEFAULT_TOLERANCE, Distribution, leximin, maximin
from activities.selection.feasibility import require_feasible
from activities.selection.instance import FloatArray, Instance, build_instance
from activities.selection.model import Method, Person, Quotas
from activities.selection.report import (
    SelectionAudit,
    SelectionOutcome,
    SelectionReport,
    panel_hash,
    pool_hash,
    quotas_hash,
)
from activities.selection.stats import probability_stats, quota_rows

__all__ = ["DEFAULT_LEGACY_RUNS", "SelectionOutcome", "select_panel"]

DEFAULT_LEGACY_RUNS = 300  # estimates for the legacy method itself; a few seconds for 2,000


def _legacy_seed(seed: str) -> int:
    # the estimate is a Monte Carlo figure, not the draw; derived from the seed for repeatability
    return int(hashlib.sha256(b"legacy-estimate\x00" + seed.encode()).hexdigest()[:16], 16)


def select_panel(
    people: list[Person],
    quotas: Quotas,
    k: int,
    seed: str,
    *,
    method: Method = Method.LEXIMIN,
    households: bool = False,
    legacy_runs: int = 0,
    tolerance: float = DEFAULT_TOLERANCE,
    time_limit: float | None = None,
) -> SelectionOutcome:
    """Select a panel of `k` from `people`; raises `InfeasibleQuotasError` with reasons.

    `legacy_runs` > 0 also estimates the legacy method's probabilities for comparison.
    `tolerance` is the relative gap between the smallest probability found and its proven
    upper bound; `time_limit` (seconds) lets LEXIMIN stop after the level that crosses it.
    """
    if not seed.strip():
        msg = "seed: expected the announced seed text, got an empty string"
        raise ValueError(msg)
    started = time.perf_counter()
    inst = build_instance(people, quotas, k, households=households)
    require_feasible(inst)
    dist: Distribution | None = None
    published: dict[str, Any] | None = None
    legacy_probs: FloatArray | None = None
    if legacy_runs > 0 or method is Method.LEGACY:
        runs = legacy_runs or DEFAULT_LEGACY_RUNS
        try:
            legacy_probs = legacy.estimate_probabilities(inst, runs, seed=_legacy_seed(seed))
        except legacy.LegacyStuckError:
            if method is Method.LEGACY:
                raise
            # only a comparison: a greedy method that gets stuck must not block a fair draw
    if method is Method.LEGACY:
        assert legacy_probs is not None
        rng = draw.VerifiableRng(draw.seed_digest(seed))
        chosen = legacy.legacy_draw(inst, rng.below)
        probs = legacy_probs
    else:
        dist = (
            leximin(inst, tolerance=tolerance, time_limit=time_limit)
            if method is Method.LEXIMIN
            else maximin(inst, tolerance=tolerance)
        )
        published = draw.canonical_distribution(inst, dist)
        chosen = draw.draw_panel(inst, published, seed)
        probs = inst.person_probabilities(dist.type_probs)
    ids = [inst.people[i].id for i in chosen]
    digest = draw.seed_digest(seed)
    dist_hash = draw.distribution_hash(published) if published is not None else None
    report = SelectionReport(
        method=method,
        k=k,
        pool_size=inst.n,
        households=households,
        seed=seed,
        seed_digest=digest,
        distribution_hash=dist_hash,
        panels_in_support=len(published["panels"]) if published else 0,
        probabilities=probability_stats(probs),
        legacy=probability_stats(legacy_probs) if legacy_probs is not None else None,
        legacy_runs=(legacy_runs or DEFAULT_LEGACY_RUNS) if legacy_probs is not None else 0,
        quotas=quota_rows(inst, chosen, probs),
        seconds=time.perf_counter() - started,
        rounds=dist.rounds if dist else 0,
        lp_solves=dist.lp_solves if dist else 0,
        milp_solves=dist.milp_solves if dist else 0,
        complete=dist.complete if dist else True,
        tolerance=tolerance,
    )
    audit = SelectionAudit(
        method=method,
        k=k,
        pool_size=inst.n,
        seed=seed,
        seed_digest=digest,
        distribution_hash=dist_hash,
        pool_hash=pool_hash(inst),
        quotas_hash=quotas_hash(inst),
        panel_hash=panel_hash(ids),
    )
    return SelectionOutcome(
        panel=sorted(ids),
        probabilities=_by_id(inst, probs),
        legacy_probabilities=_by_id(inst, legacy_probs) if legacy_probs is not None else None,
        distribution=published,
        report=report,
        audit=audit,
    )


def _by_id(inst: Instance, probs: FloatArray) -> dict[str, float]:
    return {p.id: float(v) for p, v in zip(inst.people, np.asarray(probs), strict=True)}
