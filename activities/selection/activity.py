"""The selection activities the engine calls; thin wrappers around the pure modules.

`select_panel` runs the whole selection off the event loop (the LP work is CPU-bound) and
returns the panel, everybody's probability and the audit summary. Audit hook (not wired
yet): the invitation phase stores `result.audit.event_payload()` as an `EventRecord` of type
`selection.drawn` through `append_events` (no personal data: hashes, seed, method), and the
panel ids through `register_participant`; the published distribution belongs next to the
procedure's documents so the draw can be recomputed (see `activities.selection.draw`).
`compare_registrations` gives the under-represented groups for outreach.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.selection.model import Method, Person, Quotas
from activities.selection.outreach import GroupGap, under_represented
from activities.selection.report import SelectionOutcome

__all__ = [
    "COMPARE_REGISTRATIONS",
    "SELECT_PANEL",
    "CompareRegistrationsInput",
    "CompareRegistrationsResult",
    "SelectPanelInput",
    "SelectionActivities",
]

SELECT_PANEL = "select_panel"
COMPARE_REGISTRATIONS = "compare_registrations"


class SelectPanelInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    people: list[Person] = Field(min_length=1)
    quotas: Quotas
    k: int = Field(ge=1)
    seed: str = Field(min_length=1)
    method: Method = Method.LEXIMIN
    households: bool = False
    legacy_runs: int = Field(default=0, ge=0)
    time_limit: float | None = Field(default=None, gt=0)


class CompareRegistrationsInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    registrations: list[dict[str, str]]
    targets: dict[str, dict[str, float]]
    ratio: float = Field(default=0.8, gt=0.0, le=1.0)


class CompareRegistrationsResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    gaps: list[GroupGap]


class SelectionActivities:
    """No database yet: storing the result goes through the storage activities."""

    @activity.defn(name=SELECT_PANEL)
    async def select_panel(self, data: SelectPanelInput) -> SelectionOutcome:
        """Draw a panel; conflicting quotas fail at once (a retry cannot fix them)."""
        from activities.selection.select import select_panel  # SciPy: only when selecting

        try:
            return await asyncio.to_thread(
                select_panel,
                data.people,
                data.quotas,
                data.k,
                data.seed,
                method=data.method,
                households=data.households,
                legacy_runs=data.legacy_runs,
                time_limit=data.time_limit,
            )
        except ValueError as err:  # InfeasibleQuotasError, bad k or seed: the input is wrong
            raise ApplicationError(str(err), type=type(err).__name__, non_retryable=True) from err

    @activity.defn(name=COMPARE_REGISTRATIONS)
    async def compare_registrations(
        self, data: CompareRegistrationsInput
    ) -> CompareRegistrationsResult:
        """Groups whose registrations fall short of their target share."""
        gaps = under_represented(data.registrations, data.targets, ratio=data.ratio)
        return CompareRegistrationsResult(gaps=gaps)
