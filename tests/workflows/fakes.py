"""In-memory implementations of the engine's activities, registered in test workers.

Same names and models as the real ones (activities.contracts), same idempotency rule (a
repeated id is a duplicate, never a second row), no PostgreSQL: the workflow tests exercise
Temporal for real and storage by this stand-in. Not mocks: they keep state and tests assert
on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from temporalio import activity

from activities import contracts as c
from activities import definitions_io
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


class FakeStorage:
    """All records by stable id, per kind; shared by every activity of one test worker."""

    def __init__(self, definitions: Mapping[str, c.LoadDefinitionResult] | None = None) -> None:
        self.definitions = dict(definitions or {})
        self.procedures: dict[str, ProcedureRecord] = {}
        self.events: dict[str, EventRecord] = {}
        self.event_order: list[str] = []
        self.notifications: dict[str, NotificationRequest] = {}
        self.statements: dict[str, StatementRecord] = {}
        self.votes: dict[str, VoteRecord] = {}
        self.decisions: dict[str, DecisionRecord] = {}
        self.commitments: dict[str, CommitmentRecord] = {}
        self.reports: dict[str, ProgressReportRecord] = {}
        self.participants: dict[str, ParticipantRecord] = {}
        self.load_calls = 0
        self.fail_next_store_statements = 0  # fail N calls before writing (outage)
        self.lose_next_reply = 0  # fail N calls after writing (commit went through)

    def event_types(self) -> list[str]:
        return [self.events[e].type for e in self.event_order]

    @activity.defn(name=c.LOAD_DEFINITION)
    async def load_definition(self, data: c.LoadDefinitionInput) -> c.LoadDefinitionResult:
        self.load_calls += 1
        found = self.definitions.get(data.definition_id)
        if found is None or (data.version is not None and found.version != data.version):
            from temporalio.exceptions import ApplicationError

            msg = f"definition {data.definition_id!r} version {data.version!r} not found"
            raise ApplicationError(msg, type="DefinitionNotFound", non_retryable=True)
        return found

    @activity.defn(name=c.RECORD_PROCEDURE)
    async def record_procedure(self, data: c.RecordProcedureInput) -> c.StoreResult:
        key = data.procedure.procedure_id
        created = key not in self.procedures
        self.procedures.setdefault(key, data.procedure)
        for event in data.events:  # `procedure.started`, written with the row
            if event.event_id not in self.events:
                self.events[event.event_id] = event
                self.event_order.append(event.event_id)
        return c.StoreResult(record_id=key, created=created)

    @activity.defn(name=c.APPEND_EVENTS)
    async def append_events(self, data: c.AppendEventsInput) -> c.AppendEventsResult:
        appended = 0
        for event in data.events:
            if event.event_id not in self.events:
                self.events[event.event_id] = event
                self.event_order.append(event.event_id)
                appended += 1
        for note in data.notifications:
            self.notifications.setdefault(note.notification_id, note)
        return c.AppendEventsResult(appended=appended, duplicates=len(data.events) - appended)

    @activity.defn(name=c.STORE_STATEMENTS)
    async def store_statements(self, data: c.StoreStatementsInput) -> c.StoreStatementsResult:
        if self.fail_next_store_statements > 0:
            self.fail_next_store_statements -= 1
            msg = "simulated storage outage"
            raise RuntimeError(msg)
        duplicate_ids, same = [], []
        for record in data.statements:
            existing = self.statements.get(record.statement_id)
            if existing is None:
                self.statements[record.statement_id] = record
                continue
            duplicate_ids.append(record.statement_id)
            if existing == record:
                same.append(record.statement_id)
        if self.lose_next_reply > 0:  # committed, but the reply never reaches the workflow
            self.lose_next_reply -= 1
            msg = "simulated lost reply after commit"
            raise RuntimeError(msg)
        stored = len(data.statements) - len(duplicate_ids)
        return c.StoreStatementsResult(
            stored=stored,
            duplicates=len(duplicate_ids),
            duplicate_ids=duplicate_ids,
            same_content_ids=same,
        )

    def _store(self, table: dict[str, Any], key: str, record: Any) -> c.StoreResult:
        created = key not in table
        table.setdefault(key, record)
        return c.StoreResult(record_id=key, created=created)

    @activity.defn(name=c.STORE_VOTE)
    async def store_vote(self, data: c.StoreVoteInput) -> c.StoreResult:
        return self._store(self.votes, data.vote.vote_id, data.vote)

    @activity.defn(name=c.STORE_DECISION)
    async def store_decision(self, data: c.StoreDecisionInput) -> c.StoreResult:
        return self._store(self.decisions, data.decision.decision_id, data.decision)

    @activity.defn(name=c.STORE_COMMITMENT)
    async def store_commitment(self, data: c.StoreCommitmentInput) -> c.StoreResult:
        return self._store(self.commitments, data.commitment.commitment_id, data.commitment)

    @activity.defn(name=c.STORE_PROGRESS_REPORT)
    async def store_progress_report(self, data: c.StoreProgressReportInput) -> c.StoreResult:
        return self._store(self.reports, data.report.report_id, data.report)

    @activity.defn(name=c.REGISTER_PARTICIPANT)
    async def register_participant(self, data: c.RegisterParticipantInput) -> c.StoreResult:
        p = data.participant
        return self._store(self.participants, p.participant_id, p)

    @activity.defn(name=c.SEND_NOTIFICATIONS)
    async def send_notifications(self, data: c.SendNotificationsInput) -> c.SendNotificationsResult:
        new = 0
        for note in data.notifications:
            if note.notification_id not in self.notifications:
                self.notifications[note.notification_id] = note
                new += 1
        return c.SendNotificationsResult(enqueued=new, duplicates=len(data.notifications) - new)

    def activities(self, *, real_loader: bool = False) -> list[Callable[..., Any]]:
        """Every activity, for `new_worker(..., activities=storage.activities())`.

        `real_loader` registers the real `load_definition` (reads the catalogue) instead.
        """
        return [
            definitions_io.load_definition if real_loader else self.load_definition,
            self.record_procedure,
            self.append_events,
            self.store_statements,
            self.store_vote,
            self.store_decision,
            self.store_commitment,
            self.store_progress_report,
            self.register_participant,
            self.send_notifications,
        ]
