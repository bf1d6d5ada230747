"""The one state model of a procedure, carried whole across continue-as-new.

Everything a run needs to go on where the previous run stopped is here, and nothing else:
statement texts live in storage, only counts and a bounded window of summaries stay. The
pinned definition snapshot travels along, so a continued run never reloads the definition
(no gap in which updates are refused, and no chance of picking up a changed file).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from activities.records import StatementRecord
from workflows.messages import CommitmentView, StartProcedure, StatementSummary, TimelineEntry

__all__ = ["CarriedStatement", "LifeState", "ProcedureState"]

LifeState = Literal["starting", "running", "paused", "completed", "cancelled"]

TIMELINE_LIMIT = 500
"""Timeline entries kept in state; older ones are in the audit log (append_events)."""


class CarriedStatement(BaseModel):
    """A statement accepted while the previous run drained; the next run stores it first."""

    model_config = ConfigDict(extra="forbid")

    record: StatementRecord
    via: str
    key: str


class ProcedureState(BaseModel):
    """Mutable on purpose: the workflow updates it in place, then hands it to the next run."""

    model_config = ConfigDict(extra="forbid")

    procedure_id: str
    start: StartProcedure
    definition: dict[str, Any]
    definition_version: str
    definition_hash: str
    params: dict[str, Any] = Field(default_factory=dict)  # bound definition parameters
    life: LifeState = "starting"
    reason: str = ""
    started_on: date | None = None  # Berlin date the procedure started (anchor)

    phase_id: str | None = None
    round: int = 1
    phase_entered: bool = False  # on-start effects (events, notifications) already done
    phase_started: date | None = None
    phase_end: date | None = None
    next_deadline: datetime | None = None
    phase_visits: dict[str, int] = Field(default_factory=dict)
    reminders_sent: list[int] = Field(default_factory=list)  # days-before values, this visit
    conditions: dict[str, bool] = Field(default_factory=dict)  # outcomes for transitions
    decision: str | None = None  # last decision outcome in this phase visit
    visit_counts: dict[str, int] = Field(default_factory=dict)  # quorum counters, this visit
    answered: list[str] = Field(default_factory=list)  # organisations heard, this visit
    next_anchor: date | None = None  # day after the previous phase's deadline
    last_hearing: str | None = None  # phase id late statements are attributed to
    last_hearing_round: int = 1
    last_hearing_deadline: datetime | None = None
    advance_requested: bool = False
    limited_to: str | None = None  # audience of a repeated round (BauGB §4a(3))

    event_seq: int = 0
    statement_seq: int = 0
    counts: dict[str, int] = Field(default_factory=dict)
    recent_statements: list[StatementSummary] = Field(default_factory=list)
    participants: dict[str, str] = Field(default_factory=dict)  # participant_id -> role
    votes: dict[str, dict[str, int]] = Field(default_factory=dict)  # proposal -> choice -> n
    vote_keys: list[str] = Field(default_factory=list)  # vote ids: one vote per voter/proposal
    commitments: dict[str, CommitmentView] = Field(default_factory=dict)
    handled_keys: dict[str, list[str]] = Field(default_factory=dict)  # kind -> keys (small kinds)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    carried: list[CarriedStatement] = Field(default_factory=list)
    run: int = 1

    def bump(self, counter: str, by: int = 1) -> None:
        """Increase a named counter (statements, late, duplicates, votes, ...)."""
        self.counts[counter] = self.counts.get(counter, 0) + by

    def visit_count(self, of: str) -> int:
        return self.visit_counts.get(of, 0)

    def bump_visit(self, of: str, by: int = 1) -> None:
        self.visit_counts[of] = self.visit_counts.get(of, 0) + by

    def add_timeline(self, entry: TimelineEntry) -> None:
        self.timeline.append(entry)
        del self.timeline[:-TIMELINE_LIMIT]

    def remember_key(self, kind: str, key: str) -> None:
        self.handled_keys.setdefault(kind, []).append(key)

    def has_key(self, kind: str, key: str) -> bool:
        return key in self.handled_keys.get(kind, ())
