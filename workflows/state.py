"""The one state model of a procedure, carried whole across continue-as-new.

Everything a run needs to go on where the previous run stopped is here, and nothing else:
statement texts live in storage, only counts and a bounded window of summaries stay. The
pinned definition snapshot travels along, so a continued run never reloads the definition
(no gap in which updates are refused, and no chance of picking up a changed file).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from activities.records import StatementRecord
from workflows.messages import CommitmentView, StartProcedure, StatementSummary, TimelineEntry

__all__ = ["CarriedStatement", "LifeState", "OutreachState", "ProcedureState"]

LifeState = Literal["starting", "running", "paused", "completed", "cancelled"]

TIMELINE_LIMIT = 500
"""Timeline entries kept in state; older ones are in the audit log (append_events)."""


class CarriedStatement(BaseModel):
    """A statement accepted while the previous run drained; the next run stores it first."""

    model_config = ConfigDict(extra="forbid")

    record: StatementRecord
    via: str
    key: str


class OutreachState(BaseModel):
    """Milieu-aware outreach of an invitation phase (`workflows.outreach`): counts per group,
    never a person's groups. Empty for procedures whose definition has no outreach."""

    model_config = ConfigDict(extra="forbid")

    phase_id: str | None = None  # the outreach phase last run (for the query in later phases)
    profiles: int = 0  # registrants who declared their groups
    groups: dict[str, dict[str, int]] = Field(default_factory=dict)  # feature -> category -> n
    declared: list[str] = Field(default_factory=list)  # participant ids that declared
    done: list[str] = Field(default_factory=list)  # checks, waves, draws: `what:phase#visit`
    letters: int = 0  # addresses drawn by second waves
    panel_members: int | None = None  # size of the panel drawn, once drawn
    check_at: datetime | None = None  # the moderators' check of the last outreach visit

    def count(self, feature: str, category: str) -> None:
        by_feature = self.groups.setdefault(feature, {})
        by_feature[category] = by_feature.get(category, 0) + 1

    def waves_drawn(self) -> bool:
        """A second wave was started (its address list may exist, even if the draw failed)."""
        return any(marker.startswith("wave:") for marker in self.done)


# Before `OutreachState`, outreach lived in generic counters: carried states recorded then
# (continue-as-new inputs in histories) still load, their counters moved to the typed part.
_LEGACY_PROFILE = "profile:"
_LEGACY_GAP = "under_represented:"  # derived from the groups; not kept
_LEGACY_KEYS = {"profile": "declared", "outreach": "done"}  # handled_keys kind -> field


def _outreach_from_counters(data: dict[str, Any]) -> dict[str, Any]:
    counts = dict(data.get("counts") or {})
    keys = dict(data.get("handled_keys") or {})
    part: dict[str, Any] = {}
    groups: dict[str, dict[str, int]] = {}
    for key in list(counts):
        if key.startswith(_LEGACY_PROFILE):
            feature, _, category = key.removeprefix(_LEGACY_PROFILE).partition("=")
            groups.setdefault(feature, {})[category] = counts.pop(key)
        elif key.startswith(_LEGACY_GAP):
            del counts[key]
    if groups:
        part["groups"] = groups
    if "profiles" in counts:
        part["profiles"] = counts.pop("profiles")
    if "outreach_letters" in counts:
        part["letters"] = counts.pop("outreach_letters")
    if "panel_members" in counts:
        part["panel_members"] = counts.pop("panel_members")
    for kind, field in _LEGACY_KEYS.items():
        if kind in keys:
            part[field] = keys.pop(kind)
    return {**data, "counts": counts, "handled_keys": keys, "outreach": part}


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
    outreach: OutreachState = Field(default_factory=OutreachState)
    run: int = 1

    @model_validator(mode="before")
    @classmethod
    def _legacy_outreach(cls, data: Any) -> Any:
        """A state carried before `outreach` existed: move its outreach counters there."""
        if isinstance(data, dict) and "outreach" not in data:
            return _outreach_from_counters(data)
        return data

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
