"""Batched statement intake: one COPY for the new rows, one audit event for the batch.

Why COPY straight into `statements` and not into a temp table plus `INSERT ... ON CONFLICT`:
intake first locks the procedure's chain head (it appends an audit event in the same
transaction anyway), and every writer of `statements` takes that lock first. Under the lock,
"which ids exist?" has a stable answer, so the new rows can be copied directly; that is about
twice as fast as the temp-table route and just as idempotent. (Should a row appear by another
route, COPY fails on the primary key, the transaction rolls back, and the retried activity
sees the row and skips it.)

The batch's audit event `statements.stored` lists each new statement's id and digest (sha256
over its stored fields), so the chain proves every statement's text and metadata unaltered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from activities.records import StatementRecord, stable_id
from activities.storage.audit import NewEvent, append_events, lock_head
from activities.storage.canonical import record_digest

__all__ = ["STATEMENT_COLUMNS", "IntakeOutcome", "store_statements"]

STATEMENT_COLUMNS = (
    "procedure_id",
    "statement_id",
    "sequence",
    "round",
    "phase_id",
    "author_ref",
    "statement_type",
    "text",
    "attachments",
    "received_at",
    "late",
    "receipt_digest",
)


@dataclass(frozen=True)
class IntakeOutcome:
    stored: list[str]
    duplicate_ids: list[str]


def _digest(s: StatementRecord) -> str:
    # Same field order as writes.RECORD_FIELDS["statements"].
    return record_digest(
        s.statement_id,
        s.sequence,
        s.round,
        s.phase_id,
        s.author_ref,
        s.statement_type,
        s.text,
        s.attachments,
        s.received_at,
        s.late,
        s.receipt_digest,
    )


async def store_statements(
    conn: asyncpg.Connection, procedure_id: str, statements: Sequence[StatementRecord]
) -> IntakeOutcome:
    """Store the new statements of one procedure; report the ids that were already there."""
    for index, s in enumerate(statements):
        if s.procedure_id != procedure_id:
            msg = (
                f"statements[{index}].procedure_id: expected {procedure_id!r} (the batch's "
                f"procedure), got {s.procedure_id!r}"
            )
            raise ValueError(msg)
    async with conn.transaction():
        await lock_head(conn, procedure_id)
        ids = [s.statement_id for s in statements]
        existing = {
            row[0]
            for row in await conn.fetch(
                "SELECT statement_id FROM statements "
                "WHERE procedure_id = $1 AND statement_id = ANY($2::text[])",
                procedure_id,
                ids,
            )
        }
        fresh: list[StatementRecord] = []
        duplicates: list[str] = []
        seen: set[str] = set(existing)
        for s in statements:
            if s.statement_id in seen:
                duplicates.append(s.statement_id)
                continue
            seen.add(s.statement_id)
            fresh.append(s)
        if not fresh:
            return IntakeOutcome([], duplicates)
        await conn.copy_records_to_table(
            "statements",
            records=[
                (
                    procedure_id,
                    s.statement_id,
                    s.sequence,
                    s.round,
                    s.phase_id,
                    s.author_ref,
                    s.statement_type,
                    s.text,
                    s.attachments,
                    s.received_at,
                    s.late,
                    s.receipt_digest,
                )
                for s in fresh
            ],
            columns=STATEMENT_COLUMNS,
        )
        stored = [s.statement_id for s in fresh]
        event = NewEvent(
            event_id=stable_id(procedure_id, "statements.stored", *stored),
            event_type="statements.stored",
            occurred_at=max(s.received_at for s in fresh),
            data={"statements": [[s.statement_id, _digest(s)] for s in fresh]},
        )
        await append_events(conn, procedure_id, [event])
    return IntakeOutcome(stored, duplicates)
