"""Fair panel selection (Bürgerrat lottery) and outreach gaps: pure computation + activities.

Modules: `model` (people, quotas), `parse` (CSV/YAML text with row-precise errors),
`instance` (arrays), `feasibility` (which quotas conflict), `panels` (pricing MILP),
`relaxed` (leximin of the LP relaxation), `decompose` (its optimum as a mixture of panels),
`fair` (MAXIMIN/LEXIMIN), `legacy` (greedy baseline), `draw` (verifiable lottery), `report`
(models), `stats` and `plots`, `outreach` (registrations against targets, quotas from
targets), `select` (all of it in one call), `documents` (a selection's files and their
digests), `addresses` (the targeted second wave), `settings` (data and documents folders),
`activity` (the Temporal activities).

The names below load on first use (PEP 562): numpy, SciPy and matplotlib take about half a
second to import, and every `civicflow` command and the worker import this package, while
only a selection needs the solver.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from activities.selection.report import SelectionAudit, SelectionOutcome, SelectionReport
    from activities.selection.select import select_panel

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

_HOME = {
    "VerifiableRng": "draw",
    "distribution_hash": "draw",
    "seed_digest": "draw",
    "Distribution": "fair",
    "leximin": "fair",
    "maximin": "fair",
    "FeasibilityReport": "feasibility",
    "InfeasibleQuotasError": "feasibility",
    "check_feasibility": "feasibility",
    "Instance": "instance",
    "build_instance": "instance",
    "CategoryQuota": "model",
    "Method": "model",
    "Person": "model",
    "Quotas": "model",
    "GroupGap": "outreach",
    "under_represented": "outreach",
    "PoolError": "parse",
    "QuotaError": "parse",
    "parse_pool_csv": "parse",
    "parse_quotas_yaml": "parse",
    "SelectionAudit": "report",
    "SelectionOutcome": "report",
    "SelectionReport": "report",
    "select_panel": "select",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
