"""The storage activities the procedure engine calls (names from `activities.contracts`).

Every method is one transaction and idempotent: records are keyed by their stable ids, events
by `event_id`, outbox rows by a uuid5 of their cause, and the database enforces each key. A
retried activity (a crash, a timeout after the commit, a database outage) stores nothing twice
and reports what already existed. Bad data (a progress report for an unknown commitment, a
batch naming two procedures) fails at once with a non-retryable error that says what is
wrong; a database that cannot be reached raises the driver's error, which Temporal retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import asyncpg
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import contracts
from activities.notify.mail import MailSender
from activities.notify.templates import MailRenderer
from activities.notify.webhook import WebhookSender
from activities.records import EventRecord, NotificationRequest
from activities.storage import intake, writes
from activities.storage.audit import AppendedEvent, NewEvent, append_events
from activities.storage.canonical import CanonicalError
from activities.storage.delivery import OutboxDelivery, SecretResolver, env_secret_resolver
from activities.storage.fanout import mail_messages, webhook_messages
from activities.storage.outbox import count_incidents, enqueue
from activities.storage.settings import StorageSettings

__all__ = [
    "DELIVER_OUTBOX",
    "DeliverOutboxInput",
    "DeliverOutboxResult",
    "StorageActivities",
    "StorageMetrics",
]

DELIVER_OUTBOX = "deliver_outbox"
"""Activity name of the outbox delivery pass (scheduled by the worker, not by `Procedure`)."""


class StorageMetrics(Protocol):
    """The part of `activities.metrics.Metrics` storage updates."""

    procedures_started: Counter
    statements_received: Counter
    outbox_incidents: Gauge


class DeliverOutboxInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int | None = Field(default=None, ge=1, le=1000)  # None: settings.outbox_batch_size


class DeliverOutboxResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    claimed: int
    delivered: int
    retried: int
    incidents: int
    cancelled: int
    open_incidents: int  # all incidents now, the gauge's value


@contextmanager
def _bad_data_is_final(activity_name: str) -> Iterator[None]:
    """Turn data errors into non-retryable failures; leave connection errors retryable."""
    try:
        yield
    except asyncpg.UniqueViolationError:
        raise  # a concurrent writer won a race outside the lock: a retry sees its row
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as err:
        detail = getattr(err, "detail", None) or ""
        msg = f"{activity_name}: the database refused the record: {err}. {detail}".strip()
        raise ApplicationError(msg, type=type(err).__name__, non_retryable=True) from err
    except (ValueError, CanonicalError) as err:
        msg = f"{activity_name}: {err}"
        raise ApplicationError(msg, type="InvalidRecord", non_retryable=True) from err


class StorageActivities:
    """Storage activities bound to one pool; the worker registers the bound methods."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        metrics: StorageMetrics | None = None,
        settings: StorageSettings | None = None,
        *,
        mail_sender: MailSender | None = None,
        webhook_sender: WebhookSender | None = None,
        renderer: MailRenderer | None = None,
        secrets: SecretResolver | None = None,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._settings = settings or StorageSettings()
        self._delivery = OutboxDelivery(
            pool,
            policy=self._settings.backoff(),
            lease_seconds=self._settings.outbox_lease_seconds,
            mail_sender=mail_sender,
            webhook_sender=webhook_sender,
            renderer=renderer,
            secrets=secrets or env_secret_resolver(self._settings.webhook_secret_env_prefix),
        )

    @activity.defn(name=contracts.RECORD_PROCEDURE)
    async def record_procedure(
        self, input: contracts.RecordProcedureInput
    ) -> contracts.StoreResult:
        """The procedure's row and, in the same transaction, the events that come with it
        (the engine's `procedure.started`): one round trip at start instead of two."""
        with _bad_data_is_final(contracts.RECORD_PROCEDURE):
            procedure_id = input.procedure.procedure_id
            _same_procedure(procedure_id, [e.procedure_id for e in input.events], "events")
            async with self._pool.acquire() as conn, conn.transaction():
                record_id, created = await writes.record_procedure(conn, input.procedure)
                if input.events:
                    # a retry finds its events in the log: the careful path, never doubled
                    await _append_with_messages(conn, procedure_id, input.events, [], False)
        if created and self._metrics is not None:
            self._metrics.procedures_started.inc()
        return contracts.StoreResult(record_id=record_id, created=created)

    @activity.defn(name=contracts.APPEND_EVENTS)
    async def append_events(
        self, input: contracts.AppendEventsInput
    ) -> contracts.AppendEventsResult:
        with _bad_data_is_final(contracts.APPEND_EVENTS):
            _same_procedure(input.procedure_id, [e.procedure_id for e in input.events], "events")
            _same_procedure(
                input.procedure_id, [n.procedure_id for n in input.notifications], "notifications"
            )
            try:
                # Optimistic: a first attempt appends new events, so the lookup of ids already
                # in the log is skipped; the unique key still guards, and a violation rolls the
                # whole transaction back and takes the careful path.
                links = await self._append(input, known_new=True)
            except asyncpg.UniqueViolationError:
                links = await self._append(input, known_new=False)
        appended = sum(1 for link in links if link.created)
        return contracts.AppendEventsResult(appended=appended, duplicates=len(links) - appended)

    async def _append(
        self, input: contracts.AppendEventsInput, *, known_new: bool
    ) -> list[AppendedEvent]:
        async with self._pool.acquire() as conn, conn.transaction():
            return await _append_with_messages(
                conn, input.procedure_id, input.events, input.notifications, known_new
            )

    @activity.defn(name=contracts.STORE_STATEMENTS)
    async def store_statements(
        self, input: contracts.StoreStatementsInput
    ) -> contracts.StoreStatementsResult:
        with _bad_data_is_final(contracts.STORE_STATEMENTS):
            async with self._pool.acquire() as conn:
                outcome = await intake.store_statements(conn, input.procedure_id, input.statements)
        if outcome.stored and self._metrics is not None:
            self._metrics.statements_received.inc(len(outcome.stored))
        return contracts.StoreStatementsResult(
            stored=len(outcome.stored),
            duplicates=len(outcome.duplicate_ids),
            duplicate_ids=outcome.duplicate_ids,
            same_content_ids=outcome.same_content_ids,
        )

    @activity.defn(name=contracts.STORE_VOTE)
    async def store_vote(self, input: contracts.StoreVoteInput) -> contracts.StoreResult:
        with _bad_data_is_final(contracts.STORE_VOTE):
            async with self._pool.acquire() as conn, conn.transaction():
                record_id, created = await writes.store_vote(conn, input.vote)
        return contracts.StoreResult(record_id=record_id, created=created)

    @activity.defn(name=contracts.STORE_DECISION)
    async def store_decision(self, input: contracts.StoreDecisionInput) -> contracts.StoreResult:
        with _bad_data_is_final(contracts.STORE_DECISION):
            async with self._pool.acquire() as conn, conn.transaction():
                record_id, created = await writes.store_decision(conn, input.decision)
        return contracts.StoreResult(record_id=record_id, created=created)

    @activity.defn(name=contracts.STORE_COMMITMENT)
    async def store_commitment(
        self, input: contracts.StoreCommitmentInput
    ) -> contracts.StoreResult:
        with _bad_data_is_final(contracts.STORE_COMMITMENT):
            async with self._pool.acquire() as conn, conn.transaction():
                record_id, created = await writes.store_commitment(conn, input.commitment)
        return contracts.StoreResult(record_id=record_id, created=created)

    @activity.defn(name=contracts.STORE_PROGRESS_REPORT)
    async def store_progress_report(
        self, input: contracts.StoreProgressReportInput
    ) -> contracts.StoreResult:
        with _bad_data_is_final(contracts.STORE_PROGRESS_REPORT):
            async with self._pool.acquire() as conn, conn.transaction():
                record_id, created = await writes.store_progress_report(conn, input.report)
        return contracts.StoreResult(record_id=record_id, created=created)

    @activity.defn(name=contracts.REGISTER_PARTICIPANT)
    async def register_participant(
        self, input: contracts.RegisterParticipantInput
    ) -> contracts.StoreResult:
        with _bad_data_is_final(contracts.REGISTER_PARTICIPANT):
            async with self._pool.acquire() as conn, conn.transaction():
                record_id, created = await writes.register_participant(conn, input.participant)
        return contracts.StoreResult(record_id=record_id, created=created)

    @activity.defn(name=contracts.SEND_NOTIFICATIONS)
    async def send_notifications(
        self, input: contracts.SendNotificationsInput
    ) -> contracts.SendNotificationsResult:
        with _bad_data_is_final(contracts.SEND_NOTIFICATIONS):
            _same_procedure(
                input.procedure_id, [n.procedure_id for n in input.notifications], "notifications"
            )
            async with self._pool.acquire() as conn, conn.transaction():
                messages = await mail_messages(conn, input.notifications)
                enqueued = await enqueue(conn, messages)
        return contracts.SendNotificationsResult(
            enqueued=enqueued, duplicates=len(messages) - enqueued
        )

    @activity.defn(name=DELIVER_OUTBOX)
    async def deliver_outbox(self, input: DeliverOutboxInput) -> DeliverOutboxResult:
        report = await self._delivery.run(input.limit or self._settings.outbox_batch_size)
        open_incidents = await count_incidents(self._pool)
        if self._metrics is not None:
            self._metrics.outbox_incidents.set(open_incidents)
        return DeliverOutboxResult(
            claimed=report.claimed,
            delivered=report.delivered,
            retried=report.retried,
            incidents=report.incidents,
            cancelled=report.cancelled,
            open_incidents=open_incidents,
        )


def _same_procedure(procedure_id: str, found: list[str], what: str) -> None:
    for index, other in enumerate(found):
        if other != procedure_id:
            msg = f"{what}[{index}].procedure_id: expected {procedure_id!r}, got {other!r}"
            raise ValueError(msg)


async def _append_with_messages(
    conn: asyncpg.Connection,
    procedure_id: str,
    events: list[EventRecord],
    notifications: list[NotificationRequest],
    known_new: bool,
) -> list[AppendedEvent]:
    """Events, their webhook and mail messages, in the caller's transaction."""
    new_events = [
        NewEvent(
            event_id=e.event_id,
            event_type=e.type,
            occurred_at=e.occurred_at,
            data=e.model_dump(mode="json", include={"phase_id", "round", "payload"}),
        )
        for e in events
    ]
    links = await append_events(conn, procedure_id, new_events, known_new=known_new)
    messages = await webhook_messages(conn, procedure_id, list(zip(events, links, strict=True)))
    messages += await mail_messages(conn, notifications)
    await enqueue(conn, messages)
    return links
