"""What the public site shows, as frozen dataclasses: the read model's result types.

Every type here is public by construction: no participant ids, names, e-mail or postal
addresses, no statement texts, no reporter references. Statements appear only as counts,
commitment owners by role and organisation. Pages, feeds and exports render these types and
nothing else, so the privacy rule is enforced in one place (the queries that build them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

__all__ = [
    "PHASE_TYPES",
    "PROCEDURE_STATES",
    "PUBLIC_COMMITMENT_STATUSES",
    "CommitmentFilters",
    "CommitmentPage",
    "Deadline",
    "Decision",
    "Document",
    "Localized",
    "PageRequest",
    "Participation",
    "PhaseType",
    "PhaseVisit",
    "PlannedPhase",
    "ProcedureDetail",
    "ProcedureFilters",
    "ProcedurePage",
    "ProcedureState",
    "ProcedureSummary",
    "ProgressReport",
    "PublicCommitment",
    "PublicCommitmentStatus",
    "RecentItem",
    "ReviewReport",
    "ReviewReportEntry",
    "ReviewReportPage",
    "StatementCount",
]

PhaseType = Literal["invitation", "hearing", "deliberation", "commitment", "review"]
PHASE_TYPES: tuple[PhaseType, ...] = (
    "invitation",
    "hearing",
    "deliberation",
    "commitment",
    "review",
)
ProcedureState = Literal["running", "paused", "completed", "cancelled"]
PROCEDURE_STATES: tuple[ProcedureState, ...] = ("running", "paused", "completed", "cancelled")
PublicCommitmentStatus = Literal["on_track", "overdue", "done", "dropped"]
PUBLIC_COMMITMENT_STATUSES: tuple[PublicCommitmentStatus, ...] = (
    "on_track",
    "overdue",
    "done",
    "dropped",
)

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Localized:
    """A text in German and English (the definitions carry both)."""

    de: str
    en: str

    def get(self, lang: str) -> str:
        return self.en if lang == "en" else self.de


@dataclass(frozen=True)
class PageRequest:
    """1-based page number and page size; out-of-range values are refused at construction."""

    page: int = 1
    page_size: int = 20

    def __post_init__(self) -> None:
        if self.page < 1:
            msg = f"page: expected an integer >= 1, got {self.page}"
            raise ValueError(msg)
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            msg = f"page_size: expected an integer from 1 to {MAX_PAGE_SIZE}, got {self.page_size}"
            raise ValueError(msg)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True)
class _Page:
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1, so an empty result still has page 1)."""
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass(frozen=True)
class ProcedureFilters:
    """Filters of the procedure list; None means "any". `phase` is the current phase type
    of a running or paused procedure; `query` searches titles (case-insensitive substring)."""

    municipality: str | None = None  # AGS key
    kind: str | None = None  # definition kind, e.g. "bauleitplanung"
    phase: PhaseType | None = None
    state: ProcedureState | None = None
    query: str | None = None


@dataclass(frozen=True)
class ProcedureSummary:
    """One row of the procedure list."""

    procedure_id: str
    title: str
    municipality: str
    land: str
    definition_id: str
    definition_version: str
    kind: str  # the definition's kind; the definition id if the catalogue lacks it
    definition_title: Localized | None
    started_at: datetime
    state: ProcedureState
    phase_id: str | None
    phase_type: PhaseType | None
    phase_title: Localized | None
    round: int | None
    period_start: date | None
    period_end: date | None  # current deadline (after extensions)


@dataclass(frozen=True)
class ProcedurePage(_Page):
    items: tuple[ProcedureSummary, ...] = ()


@dataclass(frozen=True)
class PhaseVisit:
    """One visit of a phase (a round of a repeated hearing is a new visit)."""

    seq: int  # seq of its `phase.changed` event: stable id within the procedure
    phase_id: str
    phase_type: str
    round: int
    visit: int
    period_start: date | None
    period_end: date | None  # after extensions
    planned_end: date | None  # as first announced
    extensions: int
    limited_to: str | None  # audience id of a limited repeated round
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None


@dataclass(frozen=True)
class Participation:
    """How the public can take part in a phase, from its definition."""

    audiences: tuple[Localized, ...]
    statement_types: tuple[str, ...]
    channels: tuple[str, ...]  # online, post, email, in_person
    votes: bool
    registrations: bool
    signatures: bool
    proposals: bool
    preclusion_warning: bool  # BauGB §4a(6): late statements may be disregarded

    @property
    def open_to_input(self) -> bool:
        return bool(
            self.statement_types
            or self.votes
            or self.registrations
            or self.signatures
            or self.proposals
        )


@dataclass(frozen=True)
class PlannedPhase:
    """A phase of the pinned definition with the visits it actually had."""

    phase_id: str
    phase_type: str
    title: Localized
    description: Localized | None
    duration: str | None  # ISO 8601 duration or named period, parameters resolved
    counting: str | None  # from_event | from_day (BGB §187(1) or (2))
    participation: Participation
    visits: tuple[PhaseVisit, ...]
    status: Literal["done", "current", "upcoming"]


@dataclass(frozen=True)
class DeadlineExtension:
    phase_id: str | None
    round: int | None
    from_date: date | None
    to_date: date
    reason: str
    at: datetime


@dataclass(frozen=True)
class StatementCount:
    """Statements of one round: totals only, never authors or texts."""

    round: int
    total: int
    late: int
    by_type: tuple[tuple[str, int], ...]  # (statement type, count), sorted by type


@dataclass(frozen=True)
class Decision:
    procedure_id: str
    decision_id: str
    round: int
    phase_id: str
    body: str  # role id of the deciding body
    body_title: Localized | None
    outcome: str
    title: str
    text: str
    decided_at: datetime


@dataclass(frozen=True)
class ProgressReport:
    """An owner's progress report; the reporter is not shown (the owner role is)."""

    report_id: str
    status: str
    progress_percent: int
    text: str
    reported_at: datetime


@dataclass(frozen=True)
class PublicCommitment:
    procedure_id: str
    procedure_title: str
    municipality: str
    commitment_id: str
    phase_id: str
    owner_role: str
    owner_role_title: Localized | None
    owner_organisation: str
    title: str
    measurable_aim: str
    due_date: date
    status: str  # as stored: open, in_progress, done, overdue, dropped
    public_status: PublicCommitmentStatus  # derived with the due date and today
    status_changed_at: datetime
    created_at: datetime
    reports: tuple[ProgressReport, ...] = ()

    @property
    def progress_percent(self) -> int | None:
        """The newest report's percentage, None before the first report."""
        return self.reports[-1].progress_percent if self.reports else None


@dataclass(frozen=True)
class CommitmentFilters:
    procedure_id: str | None = None
    municipality: str | None = None
    status: PublicCommitmentStatus | None = None
    organisation: str | None = None  # case-insensitive substring of the owner organisation


@dataclass(frozen=True)
class CommitmentPage(_Page):
    items: tuple[PublicCommitment, ...] = ()


@dataclass(frozen=True)
class ReviewReportEntry:
    commitment_id: str
    title: str | None  # None if the commitment row is missing
    status: str


@dataclass(frozen=True)
class ReviewReport:
    procedure_id: str
    procedure_title: str
    municipality: str
    seq: int
    phase_id: str
    phase_title: Localized | None
    round: int
    cycle: int
    published_at: datetime
    entries: tuple[ReviewReportEntry, ...]

    def count(self, status: str) -> int:
        return sum(1 for e in self.entries if e.status == status)


@dataclass(frozen=True)
class ReviewReportPage(_Page):
    items: tuple[ReviewReport, ...] = ()


@dataclass(frozen=True)
class Document:
    """A public document of the procedure; today the legal bases the definition cites."""

    title: str
    url: str | None
    note: str | None = None


@dataclass(frozen=True)
class ProcedureDetail:
    summary: ProcedureSummary
    description: Localized | None
    phases: tuple[PlannedPhase, ...]  # definition order; empty if the definition is unknown
    visits: tuple[PhaseVisit, ...]  # every visit in order (also of phases not in `phases`)
    current: PhaseVisit | None  # None once completed/cancelled or before the first phase
    extensions: tuple[DeadlineExtension, ...]
    statement_counts: tuple[StatementCount, ...]
    decisions: tuple[Decision, ...]
    commitments: tuple[PublicCommitment, ...]
    review_reports: tuple[ReviewReport, ...]
    documents: tuple[Document, ...]
    ended_at: datetime | None = None
    end_reason: str | None = None

    @property
    def current_phase(self) -> PlannedPhase | None:
        if self.current is None:
            return None
        return next((p for p in self.phases if p.phase_id == self.current.phase_id), None)

    @property
    def statements_total(self) -> int:
        return sum(c.total for c in self.statement_counts)


@dataclass(frozen=True)
class Deadline:
    """The period of one phase visit, for calendars: "hearing ends on ..."."""

    procedure_id: str
    procedure_title: str
    municipality: str
    seq: int  # with procedure_id a stable uid across updates (iCalendar UID)
    phase_id: str
    phase_type: str
    phase_title: Localized | None
    round: int
    visit: int
    period_start: date | None
    period_end: date  # after extensions
    planned_end: date | None
    extensions: int  # how often it moved (iCalendar SEQUENCE)
    updated_at: datetime  # when it last changed (start, or last extension)


@dataclass(frozen=True)
class RecentItem:
    """A new procedure or a new decision, newest first (Atom feed entries)."""

    kind: Literal["procedure", "decision"]
    procedure_id: str
    item_id: str  # procedure id, or decision id
    title: str
    procedure_title: str
    municipality: str
    published_at: datetime
    summary: str = ""
    extra: dict[str, str] = field(default_factory=dict)  # e.g. outcome, body of a decision
