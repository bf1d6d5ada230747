"""Outbox rows caused by events and notification requests, written in the caller's transaction.

Webhooks: every appended event whose CloudEvents type is in the catalogue goes to each active
subscription that matches the procedure (its definition's kind or its definition id,
municipality) and the type globs. Mail: one row per recipient of a `NotificationRequest`;
recipients are participant ids (the request's `participant_refs`, else the audience resolved
here, see `EVERYONE`), and the address is looked up only at delivery, so the outbox never
holds personal data.
Message ids are uuid5 of the cause, so a retried write enqueues nothing new.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Sequence

import asyncpg

from activities.notify.events import EVENT_TYPE_PREFIX, EVENT_TYPES
from activities.records import EventRecord, NotificationRequest, stable_id
from activities.storage.audit import AppendedEvent
from activities.storage.outbox import OutboxMessage

__all__ = ["EVERYONE", "mail_messages", "webhook_messages"]

log = logging.getLogger(__name__)

EVERYONE = frozenset({"public", "participants"})
"""Audiences that mean every registered (not erased) participant of the procedure.

Any other audience is resolved as the participants whose `role` equals the audience id; the
engine passes `participant_refs` when an audience is made up differently (a panel, TöB list).
"""


def _matches(patterns: Sequence[str] | None, event_type: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


async def webhook_messages(
    conn: asyncpg.Connection,
    procedure_id: str,
    appended: Sequence[tuple[EventRecord, AppendedEvent]],
) -> list[OutboxMessage]:
    """Webhook rows for the newly appended events (`created`) of one procedure."""
    fresh = [
        (event, link)
        for event, link in appended
        if link.created and EVENT_TYPE_PREFIX + event.type in EVENT_TYPES
    ]
    if not fresh:
        return []
    subscriptions = await conn.fetch(
        """
        SELECT s.subscription_id, s.event_types FROM webhook_subscriptions s
        LEFT JOIN procedures p ON p.procedure_id = $1
        WHERE s.active
          AND (s.procedure_kind IS NULL OR s.procedure_kind IN (p.kind, p.definition_id))
          AND (s.municipality IS NULL OR s.municipality = p.municipality)
        ORDER BY s.subscription_id
        """,
        procedure_id,
    )
    messages: list[OutboxMessage] = []
    for event, link in fresh:
        cloud_type = EVENT_TYPE_PREFIX + event.type
        data = {
            **event.model_dump(mode="json", include={"payload"})["payload"],
            "event_id": event.event_id,
            "seq": link.seq,
            "hash": link.hash,
            "phase_id": event.phase_id,
            "round": event.round,
        }
        for sub in subscriptions:
            if not _matches(sub["event_types"], cloud_type):
                continue
            messages.append(
                OutboxMessage(
                    message_id=stable_id("outbox", "webhook", procedure_id, event.event_id, sub[0]),
                    procedure_id=procedure_id,
                    event_id=event.event_id,
                    channel="webhook",
                    recipient=sub["subscription_id"],
                    payload={
                        "type": cloud_type,
                        "time": event.occurred_at.isoformat(),
                        "data": data,
                    },
                )
            )
    return messages


async def mail_messages(
    conn: asyncpg.Connection, requests: Sequence[NotificationRequest]
) -> list[OutboxMessage]:
    """Mail rows, one per recipient: the listed participants, else the whole audience."""
    messages: list[OutboxMessage] = []
    for request in requests:
        if request.participant_refs:
            recipients = list(dict.fromkeys(request.participant_refs))
        else:
            rows = await conn.fetch(
                "SELECT participant_id FROM participants WHERE procedure_id = $1 "
                "AND ($2 OR role = $3) AND erased_at IS NULL ORDER BY participant_id",
                request.procedure_id,
                request.audience in EVERYONE,
                request.audience,
            )
            recipients = [row["participant_id"] for row in rows]
            if not recipients:
                # Not an error (nobody registered yet), but visible: nothing was queued.
                log.warning(
                    "notification %s: audience %r has no registered participants; no mail queued",
                    request.notification_id,
                    request.audience,
                )
        payload = {
            "notification_id": request.notification_id,
            "template": request.template,
            "audience": request.audience,
            "context": request.model_dump(mode="json", include={"context"})["context"],
        }
        for participant_id in recipients:
            messages.append(
                OutboxMessage(
                    message_id=stable_id("outbox", "mail", request.notification_id, participant_id),
                    procedure_id=request.procedure_id,
                    event_id=request.cause_event_id,
                    channel="mail",
                    recipient=participant_id,
                    payload=payload,
                )
            )
    return messages
