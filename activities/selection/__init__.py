"""Fair panel selection (Bürgerrat lottery) and outreach gaps: pure computation + activities.

Modules: `model` (people, quotas), `parse` (CSV/YAML text with row-precise errors),
`instance` (arrays), `feasibility` (which quotas conflict), `panels` (pricing MILP),
`fair` (MAXIMIN/LEXIMIN by column generation), `legacy` (greedy baseline), `draw`
(verifiable lottery), `report` and `plots`, `outreach`, `select` (all of it in one call),
`activity` (the Temporal activities).
"""

from __future__ import annotations

from activities.selection.draw import VerifiableRng, distribution_hash, seed_digest
from activities.selection.fair import Distribution, leximin, maximin
from activities.selection.feasibility import (
    FeasibilityReport,
    InfeasibleQuotasError,
    check_feasibility,
)
from activities.selection.instance import Instance, build_instance
from activities.selection.model import CategoryQuota, Method, Person, Quotas
from activities.selection.outreach import GroupGap, under_represented
from activities.selection.parse import PoolError, QuotaError, parse_pool_csv, parse_quotas_yaml
from activities.selection.report import SelectionAudit, SelectionReport
from activities.selection.select import SelectionOutcome, select_panel

__all__ = [
    "CategoryQuota",
    "Distribution",
    "FeasibilityReport",
    "GroupGap",
    "InfeasibleQuotasError",
    "Instance",
    "Method",
    "Person",
    "PoolError",
    "QuotaError",
    "Quotas",
    "SelectionAudit",
    "SelectionOutcome",
    "SelectionReport",
    "VerifiableRng",
    "build_instance",
    "check_feasibility",
    "distribution_hash",
    "leximin",
    "maximin",
    "parse_pool_csv",
    "parse_quotas_yaml",
    "seed_digest",
    "select_panel",
    "under_represented",
]
