"""The activities the procedure engine calls: stable names and their input/result models.

This module is the contract between `workflows/` (which calls the activities by name) and
`activities/storage/` and `activities/notify/` (which implement them). Implementations
register with `@activity.defn(name=contracts.STORE_STATEMENTS)` and so on; the workflow calls
`workflow.execute_activity(contracts.STORE_STATEMENTS, StoreStatementsInput(...),
result_type=StoreStatementsResult, ...)`. Renaming a constant breaks running procedures, so
the names never change; models only ever gain optional fields.

Idempotency: every activity may run more than once (a retry after a worker crash, a timeout
after the database already committed). Each record carries a stable id derived from the
workflow id and an idempotency key (see `activities.records.stable_id`), and the database
enforces uniqueness on it (`ON CONFLICT DO NOTHING`, then return the existing row). A repeated
call therefore stores nothing new and reports the row as a duplicate; the engine counts only
what was stored. `append_events` writes the hash-chained audit rows and the outbox rows for
webhooks and notifications in one transaction, keyed by `event_id` / `notification_id`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from activities.records import (
    CommitmentRecord,
    DecisionRecord,
    EventRecord,
    NotificationRequest,
    ParticipantRecord,
    ProcedureRecord,
    ProgressReportRecord,
    StatementRecord,
    VoteRecord,
)

__all__ = [
    "ALL_ACTIVITY_NAMES",
    "APPEND_EVENTS",
    "LOAD_DEFINITION",
    "RECORD_PROCEDURE",
    "REGISTER_PARTICIPANT",
    "SEND_NOTIFICATIONS",
    "STORE_COMMITMENT",
    "STORE_DECISION",
    "STORE_PROGRESS_REPORT",
    "STORE_STATEMENTS",
    "STORE_VOTE",
    "AppendEventsInput",
    "AppendEventsResult",
    "LoadDefinitionInput",
    "LoadDefinitionResult",
    "RecordProcedureInput",
    "RegisterParticipantInput",
    "SendNotificationsInput",
    "SendNotificationsResult",
    "StoreCommitmentInput",
    "StoreDecisionInput",
    "StoreProgressReportInput",
    "StoreResult",
    "StoreStatementsInput",
    "StoreStatementsResult",
    "StoreVoteInput",
]

LOAD_DEFINITION = "load_definition"
RECORD_PROCEDURE = "record_procedure"
APPEND_EVENTS = "append_events"
STORE_STATEMENTS = "store_statements"
STORE_VOTE = "store_vote"
STORE_DECISION = "store_decision"
STORE_COMMITMENT = "store_commitment"
STORE_PROGRESS_REPORT = "store_progress_report"
REGISTER_PARTICIPANT = "register_participant"
SEND_NOTIFICATIONS = "send_notifications"

ALL_ACTIVITY_NAMES: tuple[str, ...] = (
    LOAD_DEFINITION,
    RECORD_PROCEDURE,
    APPEND_EVENTS,
    STORE_STATEMENTS,
    STORE_VOTE,
    STORE_DECISION,
    STORE_COMMITMENT,
    STORE_PROGRESS_REPORT,
    REGISTER_PARTICIPANT,
    SEND_NOTIFICATIONS,
)
"""Every name a worker must register for `Procedure` to run."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreResult(_Model):
    """Result of a single-record store: `created` is False when the id already existed."""

    record_id: str
    created: bool


# load_definition (implemented in activities.definitions_io) --------------------------------


class LoadDefinitionInput(_Model):
    definition_id: str = Field(min_length=1)
    version: str | None = None  # None: the newest version in the catalogue


class LoadDefinitionResult(_Model):
    """The definition as JSON-able data plus its content hash: the snapshot a run pins."""

    definition_id: str
    version: str
    content_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    definition: dict[str, Any]


# record_procedure --------------------------------------------------------------------------


class RecordProcedureInput(_Model):
    procedure: ProcedureRecord
    events: list[EventRecord] = Field(default_factory=list)
    """Appended to the procedure's log in the same transaction (the engine's
    `procedure.started`); empty in histories recorded before they were combined."""


# append_events -----------------------------------------------------------------------------


class AppendEventsInput(_Model):
    """Events to append to the hash-chained log, in order, plus the notifications they cause.

    All of it is written in one transaction: an event and its outbox rows exist together or
    not at all. Events whose `event_id` already exists are skipped (and counted).
    """

    procedure_id: str
    events: list[EventRecord] = Field(min_length=1)
    notifications: list[NotificationRequest] = Field(default_factory=list)


class AppendEventsResult(_Model):
    appended: int = Field(ge=0)
    duplicates: int = Field(ge=0)


# store_statements --------------------------------------------------------------------------


class StoreStatementsInput(_Model):
    """A batch of statements, written with one round trip (COPY/executemany)."""

    procedure_id: str
    statements: list[StatementRecord] = Field(min_length=1)


class StoreStatementsResult(_Model):
    """How many rows were new; `duplicate_ids` lists ids that already existed.

    `same_content_ids` is the subset of `duplicate_ids` whose stored row equals the incoming
    record field for field: a retry of a call whose commit succeeded but whose reply was lost
    (a later resend under the same key differs in acceptance time and sequence). The engine
    counts those as stored by this batch, so a lost reply never loses a statement's count.
    """

    stored: int = Field(ge=0)
    duplicates: int = Field(ge=0)
    duplicate_ids: list[str] = Field(default_factory=list)
    same_content_ids: list[str] = Field(default_factory=list)


# single-record stores ----------------------------------------------------------------------


class StoreVoteInput(_Model):
    vote: VoteRecord


class StoreDecisionInput(_Model):
    decision: DecisionRecord


class StoreCommitmentInput(_Model):
    """Insert a commitment (insert-only; status changes arrive as progress reports)."""

    commitment: CommitmentRecord


class StoreProgressReportInput(_Model):
    """A progress report; storage also sets the commitment's current status from it."""

    report: ProgressReportRecord


class RegisterParticipantInput(_Model):
    """Personal data goes to its own table; the workflow keeps only `participant_id`."""

    participant: ParticipantRecord


# send_notifications ------------------------------------------------------------------------


class SendNotificationsInput(_Model):
    """Notifications not tied to a new audit event (e.g. reminders before a deadline)."""

    procedure_id: str
    notifications: list[NotificationRequest] = Field(min_length=1)


class SendNotificationsResult(_Model):
    enqueued: int = Field(ge=0)
    duplicates: int = Field(ge=0)
