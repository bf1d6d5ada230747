"""The transactional outbox: enqueue with the causing event, claim due rows, record outcomes.

Rows are written in the same transaction as the event or notification that causes them, so a
message exists exactly when its cause does. Delivery is at-least-once: a worker claims due rows
with `FOR UPDATE SKIP LOCKED` (several workers never claim the same row), leases them by
pushing `next_attempt_at` forward, sends, then records the outcome. A worker that dies mid-send
leaves the row to be claimed again when the lease ends; the message id is stable, so the
receiver deduplicates. After `max_attempts` failures, or at once on a permanent failure, the row
becomes an incident: it stays in the table, is listed by `list_incidents` and counted by the
`civicflow_outbox_incidents` gauge until an operator requeues it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import asyncpg

__all__ = [
    "BackoffPolicy",
    "Channel",
    "OutboxMessage",
    "OutboxRow",
    "OutboxStatus",
    "claim_due",
    "count_incidents",
    "enqueue",
    "list_incidents",
    "purge_finished",
    "record_cancelled",
    "record_delivered",
    "record_failure",
    "requeue",
]

Channel = Literal["mail", "webhook"]
OutboxStatus = Literal["pending", "delivered", "failed", "incident", "cancelled"]


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff between delivery attempts, and when to give up."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=30)
    factor: float = 2.0
    maximum: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            msg = f"max_attempts: expected at least 1, got {self.max_attempts}"
            raise ValueError(msg)

    def delay(self, attempts: int, retry_after: float | None = None) -> timedelta:
        """Wait after the `attempts`-th failure; a receiver's Retry-After wins if longer."""
        seconds = self.base.total_seconds() * self.factor ** max(attempts - 1, 0)
        seconds = min(seconds, self.maximum.total_seconds())
        if retry_after is not None:
            seconds = max(seconds, min(retry_after, self.maximum.total_seconds()))
        return timedelta(seconds=seconds)


@dataclass(frozen=True)
class OutboxMessage:
    """A row to enqueue. `message_id` is a uuid derived from the cause (never random)."""

    message_id: str
    procedure_id: str
    channel: Channel
    recipient: str
    payload: dict[str, Any]
    event_id: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    """A stored outbox row, as claimed for delivery or listed as an incident."""

    message_id: str
    procedure_id: str
    event_id: str | None
    channel: Channel
    recipient: str
    payload: dict[str, Any]
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> OutboxRow:
        return cls(
            message_id=str(row["message_id"]),
            procedure_id=row["procedure_id"],
            event_id=row["event_id"],
            channel=row["channel"],
            recipient=row["recipient"],
            payload=json.loads(row["payload"]),
            status=row["status"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
            last_error=row["last_error"],
            created_at=row["created_at"],
        )


_COLUMNS = (
    "message_id, procedure_id, event_id, channel, recipient, payload, status, attempts, "
    "next_attempt_at, last_error, created_at"
)


async def enqueue(conn: asyncpg.Connection, messages: Sequence[OutboxMessage]) -> int:
    """Insert `messages` (one round trip); return how many were new. Existing ids are kept."""
    if not messages:
        return 0
    inserted = await conn.fetch(
        "INSERT INTO outbox (message_id, procedure_id, event_id, channel, recipient, payload) "
        "SELECT m, p, e, c, r, d::jsonb "
        "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) "
        "AS t(m, p, e, c, r, d) ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
        [m.message_id for m in messages],
        [m.procedure_id for m in messages],
        [m.event_id for m in messages],
        [m.channel for m in messages],
        [m.recipient for m in messages],
        [json.dumps(m.payload, ensure_ascii=False) for m in messages],
    )
    return len(inserted)


async def claim_due(
    pool: asyncpg.Pool,
    *,
    limit: int,
    lease: timedelta,
    channels: Sequence[Channel] = ("mail", "webhook"),
) -> list[OutboxRow]:
    """Claim up to `limit` due rows: count the attempt and lease them until `now() + lease`."""
    rows = await pool.fetch(
        """
        WITH due AS (
            SELECT message_id FROM outbox
            WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()
              AND channel = ANY($3::text[])
            ORDER BY next_attempt_at
            LIMIT $1
            FOR UPDATE SKIP LOCKED
        )
        UPDATE outbox o
        SET attempts = o.attempts + 1, next_attempt_at = now() + $2::interval, updated_at = now()
        FROM due WHERE o.message_id = due.message_id
        RETURNING o.message_id, o.procedure_id, o.event_id, o.channel, o.recipient, o.payload,
                  o.status, o.attempts, o.next_attempt_at, o.last_error, o.created_at
        """,
        limit,
        lease,
        list(channels),
    )
    return sorted((OutboxRow.from_record(r) for r in rows), key=lambda r: r.next_attempt_at)


async def record_delivered(pool: asyncpg.Pool, message_id: str) -> None:
    """Mark a claimed row delivered."""
    await pool.execute(
        "UPDATE outbox SET status = 'delivered', delivered_at = now(), updated_at = now(), "
        "last_error = NULL WHERE message_id = $1",
        message_id,
    )


async def record_cancelled(pool: asyncpg.Pool, message_id: str, reason: str) -> None:
    """Mark a claimed row cancelled: its recipient is gone on purpose (erased, unsubscribed)."""
    await pool.execute(
        "UPDATE outbox SET status = 'cancelled', last_error = $2, updated_at = now() "
        "WHERE message_id = $1",
        message_id,
        reason,
    )


async def record_failure(
    pool: asyncpg.Pool,
    row: OutboxRow,
    *,
    error: str,
    retryable: bool,
    policy: BackoffPolicy,
    retry_after: float | None = None,
) -> OutboxStatus:
    """Record a failed attempt of a claimed row; return its new status (failed or incident)."""
    give_up = not retryable or row.attempts >= policy.max_attempts
    status: OutboxStatus = "incident" if give_up else "failed"
    delay = timedelta(0) if give_up else policy.delay(row.attempts, retry_after)
    await pool.execute(
        "UPDATE outbox SET status = $2, last_error = $3, next_attempt_at = now() + $4::interval, "
        "updated_at = now() WHERE message_id = $1",
        row.message_id,
        status,
        error[:2000],
        delay,
    )
    return status


async def list_incidents(
    pool: asyncpg.Pool, *, procedure_id: str | None = None, limit: int = 100
) -> list[OutboxRow]:
    """Incidents, oldest first, optionally of one procedure."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM outbox WHERE status = 'incident' "
        "AND ($1::text IS NULL OR procedure_id = $1) ORDER BY created_at, message_id LIMIT $2",
        procedure_id,
        limit,
    )
    return [OutboxRow.from_record(r) for r in rows]


async def count_incidents(pool: asyncpg.Pool) -> int:
    """How many rows are incidents now (the value of the incidents gauge)."""
    count: int = await pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'incident'")
    return count


async def requeue(pool: asyncpg.Pool, message_id: str) -> bool:
    """Give an incident a fresh set of attempts (after the operator fixed the cause)."""
    result: str = await pool.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), "
        "updated_at = now() WHERE message_id = $1 AND status = 'incident'",
        message_id,
    )
    return result.endswith(" 1")


async def purge_finished(pool: asyncpg.Pool, older_than: timedelta) -> int:
    """Delete delivered and cancelled rows last touched before `now() - older_than`.

    Pending, failed and incident rows are never purged. The audit chain is unaffected: it
    records events, not deliveries.
    """
    result: str = await pool.execute(
        "DELETE FROM outbox WHERE status IN ('delivered', 'cancelled') "
        "AND updated_at < now() - $1::interval",
        older_than,
    )
    return int(result.split()[-1])
