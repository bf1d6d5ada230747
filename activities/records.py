"""Records the procedure engine hands to storage, and storage keeps.

Both sides need them: the workflow builds them (deterministically, from update payloads and
`workflow.now()`), the storage activities write them. They live here, with the activities,
because imports run definitions <- activities <- workflows.

Rules every record follows:
- Ids are stable: derived from the workflow id and an idempotency key (or a sequence that is
  part of the workflow's own state), never random, so a retried activity writes the same row
  and the database's unique keys turn the retry into a no-op.
- Personal data (name, e-mail, postal address) lives only in `ParticipantRecord`, which is kept
  in its own table so it can be erased. Every other record refers to a participant by an opaque
  `participant_id` and carries no personal data inline. `EventRecord.payload` never holds any.
- Times are timezone-aware UTC datetimes; dates (due dates, deadlines) are calendar dates in
  Europe/Berlin, because that is how the law counts them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "ID_NAMESPACE",
    "CommitmentRecord",
    "CommitmentStatus",
    "DecisionRecord",
    "EventRecord",
    "NotificationRequest",
    "ParticipantRecord",
    "ProcedureRecord",
    "ProgressReportRecord",
    "StatementRecord",
    "VoteRecord",
    "stable_id",
]

ID_NAMESPACE = uuid.UUID("6f1c2a9e-3b5d-5c8e-9a47-2d0f4e6b8c11")
"""Namespace of every civicflow uuid5: changing it would change every stable id."""


def stable_id(*parts: str) -> str:
    """A deterministic id (uuid5) from the given parts, e.g. workflow id and idempotency key.

    Deterministic on purpose: workflow code may call it, and the same inputs always give the
    same id, which is what makes retried writes idempotent.
    """
    return str(uuid.uuid5(ID_NAMESPACE, "\x1f".join(parts)))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        msg = "expected a timezone-aware datetime"
        raise ValueError(msg)
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
RecordId = Annotated[str, Field(min_length=1, max_length=200)]

CommitmentStatus = Literal["open", "in_progress", "done", "overdue", "dropped"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProcedureRecord(_Record):
    """One procedure (one workflow id), with the definition it is pinned to."""

    procedure_id: RecordId  # the workflow id
    definition_id: str
    definition_version: str
    definition_hash: Sha256Hex
    title: str
    municipality: str  # AGS key, 8 digits
    land: str  # ISO 3166-2 subdivision code without "DE-", e.g. "BW"
    started_at: AwareDatetime
    parameters: dict[str, Any] = Field(default_factory=dict)
    kind: str | None = Field(default=None, min_length=1, max_length=100)
    """The definition's `kind` (e.g. "bauleitplanung", "buergerrat"), which several
    definitions share. Optional so that callers built before it existed keep working; stored
    as NULL (unknown) when absent."""


class ParticipantRecord(_Record):
    """Personal data of one participant, kept apart from everything else so it can be erased."""

    procedure_id: RecordId
    participant_id: RecordId  # opaque; the only thing other records and events carry
    role: str
    name: str | None = None
    email: str | None = None
    address: str | None = None
    organisation: str | None = None  # an authority or body (TöB); not personal data by itself
    language: Literal["de", "en"] = "de"
    registered_at: AwareDatetime


class StatementRecord(_Record):
    """One statement (Stellungnahme) as received, with its receipt digest."""

    procedure_id: RecordId
    statement_id: RecordId  # stable_id(workflow id, "statement", idempotency key)
    sequence: int = Field(ge=1)  # position in the procedure's intake, for paging
    round: int = Field(ge=1)
    phase_id: str
    author_ref: RecordId | None = None  # participant_id; None for anonymous contributions
    statement_type: str
    text: str
    attachments: list[str] = Field(default_factory=list)  # references (URIs), never content
    received_at: AwareDatetime
    late: bool = False  # received after the phase deadline; kept, BauGB §4a(6) decides later
    receipt_digest: Sha256Hex  # sha256 of the canonical payload, also on the receipt


class VoteRecord(_Record):
    """One vote on a proposal in a deliberation (one per voter and proposal)."""

    procedure_id: RecordId
    vote_id: RecordId  # stable_id(workflow id, "vote", proposal id, voter)
    round: int = Field(ge=1)
    phase_id: str
    proposal_id: str
    voter_ref: RecordId
    choice: str
    cast_at: AwareDatetime
    receipt_digest: Sha256Hex


class DecisionRecord(_Record):
    """A decision: a council resolution, a moderator's or an administration's decision."""

    procedure_id: RecordId
    decision_id: RecordId
    round: int = Field(ge=1)
    phase_id: str
    body: str  # who decided: role name such as "council" or "moderator"
    outcome: str  # e.g. "adopted", "rejected", "draft_changed", "send_back"
    title: str
    text: str = ""
    decided_at: AwareDatetime
    receipt_digest: Sha256Hex


class CommitmentRecord(_Record):
    """A self-commitment of a named actor, followed up in public."""

    procedure_id: RecordId
    commitment_id: RecordId
    phase_id: str
    owner_role: str
    owner_organisation: str
    title: str
    measurable_aim: str
    due_date: date
    status: CommitmentStatus = "open"
    created_at: AwareDatetime
    receipt_digest: Sha256Hex


class ProgressReportRecord(_Record):
    """An owner's report on a commitment; the commitment's status history is made of these."""

    procedure_id: RecordId
    report_id: RecordId
    commitment_id: RecordId
    phase_id: str
    status: CommitmentStatus
    progress_percent: int = Field(ge=0, le=100)
    text: str = ""
    reporter_ref: RecordId | None = None
    reported_at: AwareDatetime
    receipt_digest: Sha256Hex


class EventRecord(_Record):
    """One entry of a procedure's audit trail; also what webhooks deliver.

    `type` is a dotted name such as `procedure.started`, `phase.changed`,
    `statement.received`; webhooks prefix it (`de.civicflow.statement.received`).
    """

    procedure_id: RecordId
    event_id: RecordId  # stable_id(workflow id, "event", sequence or cause)
    type: Annotated[str, Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$")]
    occurred_at: AwareDatetime
    phase_id: str | None = None
    round: int | None = Field(default=None, ge=1)
    payload: dict[str, Any] = Field(default_factory=dict)  # no personal data, ever


class NotificationRequest(_Record):
    """A template notification to an audience; the outbox sends it once per recipient."""

    procedure_id: RecordId
    notification_id: RecordId  # stable; recipients deduplicate on it
    template: str
    audience: str  # an audience name of the definition, e.g. "public", "toeb"
    participant_refs: list[RecordId] = Field(default_factory=list)  # empty: whole audience
    context: dict[str, Any] = Field(default_factory=dict)  # template variables, no personal data
    cause_event_id: RecordId | None = None
