"""Batched statement intake: one COPY for the new rows, one audit event for the batch.

Why COPY straight into `statements` and not into a temp table plus `INSERT ... ON CONFLICT`:
intake first locks the procedure's chain head (it appends an audit event in the same
transaction anyway), and every writer of `statements` takes that lock first, so under the lock
nobody else adds statements to the procedure. The first attempt copies the whole batch
directly: a fresh batch (the normal case) costs one COPY, about twice as fast as the
temp-table route. If the primary key finds a duplicate (a retried activity, an overlapping
batch), that transaction rolls back and a second one looks the ids up and copies only the new
rows. Either way each statement is stored once and reported once.

The batch's audit event `statements.stored` lists each new statement's id and digest
(`canonical.statement_digest` over its stored fields), so the chain proves every statement's
text and metadata unaltered.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from activities.records import StatementRecord, stable_id
from activities.storage.audit import NewEvent, append_events, lock_head
from activities.storage.canonical import statement_digest

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


_DIGEST_SLICE = 100
_ROW = operator.attrgetter(*STATEMENT_COLUMNS)
"""A record's values in `STATEMENT_COLUMNS` order, as a tuple (one C call per record)."""


@dataclass(frozen=True)
class IntakeOutcome:
    stored: list[str]
    duplicate_ids: list[str]
    same_content_ids: list[str] = field(default_factory=list)
    """Duplicates whose stored row equals the incoming record field for field: in practice a
    retry of a call whose commit succeeded but whose reply was lost (the record carries the
    workflow's acceptance time and sequence, so a later resend differs). Reported to the
    engine as `StoreStatementsResult.same_content_ids`, which counts them as stored."""


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
    # Rows are built before the head is locked, to keep the lock short.
    # reversed: the first of repeated ids wins. (procedure_id was checked equal above.)
    rows = {s.statement_id: _ROW(s) for s in reversed(statements)}
    try:
        # Optimistic: a first attempt has no duplicates, so skip the lookup; the primary key
        # still guards, and a violation rolls back and takes the careful path below.
        return await _store(conn, procedure_id, statements, rows, check_existing=False)
    except asyncpg.UniqueViolationError:
        return await _store(conn, procedure_id, statements, rows, check_existing=True)


async def _copy_and_digest(conn: asyncpg.Connection, rows: list[tuple[Any, ...]]) -> list[str]:
    """COPY `rows` while computing their digests: the server ingests as Python hashes.

    On two cores this overlaps the two biggest costs of intake instead of adding them.
    """
    copy = asyncio.ensure_future(
        conn.copy_records_to_table("statements", records=rows, columns=STATEMENT_COLUMNS)
    )
    try:
        digests: list[str] = []
        for n, row in enumerate(rows, start=1):
            digests.append(statement_digest(*row[1:]))
            if n % _DIGEST_SLICE == 0:
                await asyncio.sleep(0)  # let the COPY task feed the socket
        await copy
    except BaseException:
        copy.cancel()
        with contextlib.suppress(BaseException):
            await copy
        raise
    return digests


async def _store(
    conn: asyncpg.Connection,
    procedure_id: str,
    statements: Sequence[StatementRecord],
    rows: dict[str, tuple[Any, ...]],
    *,
    check_existing: bool,
) -> IntakeOutcome:
    async with conn.transaction():
        head = await lock_head(conn, procedure_id)
        seen: set[str] = set()
        identical: set[str] = set()
        if check_existing:
            found = await conn.fetch(
                f"SELECT {', '.join(STATEMENT_COLUMNS)} FROM statements "
                "WHERE procedure_id = $1 AND statement_id = ANY($2::text[])",
                procedure_id,
                list(rows),
            )
            for row in found:
                seen.add(row["statement_id"])
                if tuple(row) == rows[row["statement_id"]]:
                    identical.add(row["statement_id"])
        same = [i for i in dict.fromkeys(s.statement_id for s in statements) if i in identical]
        stored: list[str] = []
        duplicates: list[str] = []
        for s in statements:
            if s.statement_id in seen:
                duplicates.append(s.statement_id)
                continue
            seen.add(s.statement_id)
            stored.append(s.statement_id)
        if not stored:
            return IntakeOutcome([], duplicates, same)
        digests = await _copy_and_digest(conn, [rows[i] for i in stored])
        event = NewEvent(
            event_id=stable_id(procedure_id, "statements.stored", *stored),
            event_type="statements.stored",
            occurred_at=max(rows[i][9] for i in stored),
            # Pairs as tuples: the same JSON arrays, fewer objects for the garbage collector.
            data={"statements": list(zip(stored, digests, strict=True))},
        )
        # The event id derives from statements inserted just now, so it cannot exist yet.
        await append_events(conn, procedure_id, [event], head=head, known_new=True)
    return IntakeOutcome(stored, duplicates, same)
