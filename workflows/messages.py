"""Every payload that crosses the `Procedure` workflow's boundary, as pydantic models.

Start input, update/signal payloads, their receipts, and query results. Deterministic, pure
code: the workflow imports it, and so may clients (integrators, the CLI, tests).

Update payloads are decoded leniently by Temporal and validated strictly here; the workflow's
validators add what needs state (phase, role, duplicates). A receipt carries the sha256 of the
canonical JSON of the payload it acknowledges, so a submitter can prove what was received.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "ATTACHMENT_SCHEMES",
    "AddCommitmentInput",
    "AdminAdvanceInput",
    "AdminCancelInput",
    "AdminExtendDeadlineInput",
    "AdminPauseInput",
    "AdminResumeInput",
    "CastVoteInput",
    "CommitmentView",
    "EngineLimits",
    "ItemError",
    "ProcedureResult",
    "ProcedureStatus",
    "Receipt",
    "RecordDecisionInput",
    "RegisterInput",
    "ReportProgressInput",
    "StartProcedure",
    "StatementInput",
    "StatementPage",
    "StatementReceipt",
    "StatementSummary",
    "StatementsReceipt",
    "SubmitStatementsInput",
    "TimelineEntry",
    "canonical_digest",
    "first_error",
    "procedure_workflow_id",
]

ATTACHMENT_SCHEMES = ("https", "s3", "urn")
"""Attachments are references; only these schemes are accepted (no file://, no data:)."""

Key = Annotated[str, Field(min_length=1, max_length=200)]
Role = Annotated[str, Field(min_length=1, max_length=100)]


def canonical_digest(payload: BaseModel) -> str:
    """sha256 of the canonical JSON (sorted keys, no whitespace, UTF-8) of `payload`."""
    text = json.dumps(
        payload.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def first_error(err: ValidationError) -> str:
    """`field.path: problem` for every error, joined; used in rejection messages."""
    parts = []
    for item in err.errors():
        where = ".".join(str(p) for p in item["loc"]) or "input"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def procedure_workflow_id(municipality: str, reference: str) -> str:
    """The workflow id of a procedure: starting the same procedure twice is refused.

    `procedure-<AGS>-<reference slug>`, e.g. `procedure-08221000-bplan-12-3`.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", reference.lower()).strip("-")
    if not slug:
        msg = f"reference {reference!r}: expected letters or digits"
        raise ValueError(msg)
    return f"procedure-{municipality}-{slug}"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class EngineLimits(_Message):
    """Operational limits of one procedure; defaults keep well inside Temporal's limits."""

    max_batch: int = Field(default=500, ge=1, le=1000)  # statements per submit_statements
    store_batch: int = Field(default=1000, ge=1, le=5000)  # statements per storage activity
    max_statement_chars: int = Field(default=100_000, ge=1)
    max_updates_per_run: int = Field(default=1800, ge=10, le=1900)  # Temporal: 2,000 per run
    max_signals_per_run: int = Field(default=9000, ge=10, le=9500)  # Temporal: 10,000 per run
    max_history_events: int = Field(default=40_000, ge=1000, le=50_000)  # Temporal: 51,200
    retained_statements: int = Field(default=1000, ge=0, le=5000)  # newest, for the query


class Stakeholder(_Message):
    """An initially known participant; personal data goes through `register` instead."""

    role: Role
    organisation: str = Field(min_length=1, max_length=300)


class StartProcedure(_Message):
    """The one input of `Procedure`. Validated inside the workflow, not by the decoder."""

    definition_id: Key
    definition_version: str | None = None
    reference: Key  # the municipality's file reference, e.g. "B-Plan 12/3"
    title: str = Field(min_length=1, max_length=500)
    municipality: str = Field(pattern=r"^\d{8}$", description="AGS, 8 digits")
    land: Literal[
        "BW",
        "BY",
        "BE",
        "BB",
        "HB",
        "HH",
        "HE",
        "MV",
        "NI",
        "NW",
        "RP",
        "SL",
        "SN",
        "ST",
        "SH",
        "TH",
    ]
    parameters: dict[str, Any] = Field(default_factory=dict)
    stakeholders: list[Stakeholder] = Field(default_factory=list)
    announcement_date: date | None = None
    limits: EngineLimits = Field(default_factory=EngineLimits)


# ---------------------------------------------------------------------------- updates


class StatementInput(_Message):
    """One statement (Stellungnahme). `idempotency_key` makes resubmission harmless."""

    idempotency_key: Key
    role: Role  # the submitter's role, e.g. "public", "toeb"
    statement_type: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1)
    author_ref: Key | None = None  # participant_id from `register`; None: anonymous
    organisation: str | None = Field(default=None, max_length=300)  # authority (TöB) heard
    attachments: list[str] = Field(default_factory=list, max_length=50)

    @field_validator("attachments")
    @classmethod
    def _schemes(cls, value: list[str]) -> list[str]:
        for ref in value:
            scheme = ref.split(":", 1)[0].lower() if ":" in ref else ""
            if scheme not in ATTACHMENT_SCHEMES:
                msg = (
                    f"attachment {ref[:80]!r}: expected a {'/'.join(ATTACHMENT_SCHEMES)} reference"
                )
                raise ValueError(msg)
        return value


class SubmitStatementsInput(_Message):
    """A batch of statements: each is checked on its own, errors are reported per item."""

    statements: list[StatementInput] = Field(min_length=1)


class RegisterInput(_Message):
    idempotency_key: Key
    role: Role
    name: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    address: str | None = Field(default=None, max_length=1000)
    organisation: str | None = Field(default=None, max_length=300)
    language: Literal["de", "en"] = "de"


class CastVoteInput(_Message):
    idempotency_key: Key
    role: Role
    voter_ref: Key  # participant_id
    proposal_id: Key
    choice: str = Field(min_length=1, max_length=100)


class RecordDecisionInput(_Message):
    """A decision; its `outcome` (e.g. `draft_changed`, `send_back`) can drive transitions."""

    idempotency_key: Key
    role: Role  # the deciding body, e.g. "council", "moderator"
    outcome: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")
    title: str = Field(min_length=1, max_length=500)
    text: str = ""
    ends_phase: bool = False  # a moderator's decision that ends the current phase


class AddCommitmentInput(_Message):
    idempotency_key: Key
    role: Role
    owner_role: Role
    owner_organisation: str = Field(min_length=1, max_length=300)
    title: str = Field(min_length=1, max_length=500)
    measurable_aim: str = Field(min_length=1, max_length=2000)
    due_date: date


class ReportProgressInput(_Message):
    idempotency_key: Key
    role: Role
    commitment_id: Key
    status: Literal["open", "in_progress", "done", "overdue", "dropped"]
    progress_percent: int = Field(ge=0, le=100)
    text: str = ""
    reporter_ref: Key | None = None


class AdminExtendDeadlineInput(_Message):
    """Move the current phase's end to `new_end` (a later legal day)."""

    idempotency_key: Key
    role: Role
    new_end: date
    reason: str = Field(min_length=1, max_length=2000)


class AdminAdvanceInput(_Message):
    """End the current phase now; `outcome` names a transition condition, if any."""

    idempotency_key: Key
    role: Role
    reason: str = Field(min_length=1, max_length=2000)
    outcome: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]*$")


class AdminPauseInput(_Message):
    idempotency_key: Key
    role: Role
    reason: str = Field(min_length=1, max_length=2000)


class AdminResumeInput(_Message):
    idempotency_key: Key
    role: Role
    reason: str = Field(default="resumed", min_length=1, max_length=2000)


class AdminCancelInput(_Message):
    idempotency_key: Key
    role: Role
    reason: str = Field(min_length=1, max_length=2000)


# ---------------------------------------------------------------------------- receipts


class Receipt(_Message):
    """Acknowledges one accepted update: what, when, where in the procedure, which digest."""

    id: str
    idempotency_key: str
    received_at: datetime
    phase_id: str
    round: int
    sha256: str


class StatementReceipt(Receipt):
    late: bool = False  # received after the deadline: kept and flagged
    duplicate: bool = False  # already stored under this key earlier: nothing changed


class ItemError(_Message):
    index: int
    idempotency_key: str | None
    message: str  # `CODE: what was wrong`
    code: str | None = None  # the stable error code (docs/errors.md)


class StatementsReceipt(_Message):
    receipts: list[StatementReceipt] = Field(default_factory=list)
    errors: list[ItemError] = Field(default_factory=list)


# ---------------------------------------------------------------------------- queries


class CommitmentView(_Message):
    commitment_id: str
    title: str
    owner_role: str
    owner_organisation: str
    measurable_aim: str
    due_date: date
    status: str
    progress_percent: int = 0


class StatementSummary(_Message):
    sequence: int
    statement_id: str
    phase_id: str
    round: int
    statement_type: str
    late: bool
    received_at: datetime


class StatementPage(_Message):
    """A page of statement summaries; older ones than `oldest_retained` are in storage."""

    total: int
    items: list[StatementSummary]
    next_after: int | None  # pass as `after` for the next page
    oldest_retained: int | None


class TimelineEntry(_Message):
    at: datetime
    type: str
    phase_id: str | None = None
    round: int | None = None
    summary: str = ""


class ProcedureStatus(_Message):
    procedure_id: str
    definition_id: str
    definition_version: str
    definition_hash: str
    state: str
    phase_id: str | None
    phase_type: str | None
    round: int
    limited_to: str | None = None  # audience a repeated round is limited to (§4a(3))
    visits: int = 0  # phase visits so far; changes whenever a phase starts
    phase_started: date | None
    phase_ends: date | None
    next_deadline: datetime | None
    counts: dict[str, int]
    open_commitments: list[str]
    run: int


class ProcedureResult(_Message):
    """What a finished procedure returns."""

    procedure_id: str
    state: str
    reason: str = ""
    counts: dict[str, int] = Field(default_factory=dict)
