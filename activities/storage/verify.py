"""Whole-procedure verification: the hash chain, then every stored record against it.

The chain proves the events unaltered; each `*.stored` event carries the digest of the record
it anchors, so recomputing the digests from the tables proves the records unaltered too (a
statement's text edited in the database, a vote deleted, a row smuggled in). A batch of
statements (`intake.BATCH_FORM`) carries a digest prefix per row, which names an altered row,
and the digest over the batch's full row digests, checked once all its rows are read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import asyncpg

from activities.storage.audit import ChainReport, verify_chain
from activities.storage.canonical import STATEMENT_ROW_FORM, statement_row_digest
from activities.storage.intake import (
    BATCH_FORM,
    DIGEST_PREFIX,
    STATEMENT_COLUMNS,
    batch_digest,
    row_digest,
)
from activities.storage.writes import RECORD_FIELDS, RECORD_KEYS, digest_of, row_values

__all__ = ["ProcedureReport", "verify_procedure"]

_TABLE_OF_EVENT = {event_type: table for table, (_, event_type) in RECORD_KEYS.items()}
_TABLE_OF_EVENT["statements.stored"] = "statements"
_KEY_OF_TABLE = {table: key for table, (key, _) in RECORD_KEYS.items()} | {
    "statements": "statement_id"
}


@dataclass(frozen=True)
class ProcedureReport:
    chain: ChainReport
    record_problems: list[str] = field(default_factory=list)
    records_checked: int = 0

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.record_problems


class _Anchor(NamedTuple):
    """What the chain recorded about one record."""

    seq: int  # of the anchoring event
    digest: str
    form: str | None = None  # of a statement: `BATCH_FORM`, `STATEMENT_ROW_FORM` or None
    kind: str | None = None  # a procedure's kind, in events written since it was recorded


class _Batch(NamedTuple):
    """A `statements.stored` event of `BATCH_FORM`: its statements in order, their digest."""

    seq: int
    ids: list[str]
    digest: str


def _row_problem(
    table: str,
    record_id: str,
    row: Mapping[str, Any],
    anchor: _Anchor,
    full_digests: dict[str, bytes],
) -> str | None:
    """Why `row` does not match its anchor, or None; a `BATCH_FORM` row's full digest is put in
    `full_digests` for the check of its batch."""
    if anchor.form == BATCH_FORM:
        full = row_digest([row[column] for column in STATEMENT_COLUMNS])
        full_digests[record_id] = full
        digest = full.hex()[:DIGEST_PREFIX]
    elif anchor.form == STATEMENT_ROW_FORM:
        digest = statement_row_digest([row[column] for column in STATEMENT_COLUMNS])
    else:
        digest = digest_of(table, row_values(table, row))
    if digest != anchor.digest:
        return (
            f"{table} {record_id}: stored fields differ from the digest recorded in event seq "
            f"{anchor.seq} (the row was altered)"
        )
    if table == "procedures" and anchor.kind is not None and row["kind"] != anchor.kind:
        return (
            f"procedures {record_id}: kind {row['kind']!r} differs from {anchor.kind!r} "
            f"recorded in event seq {anchor.seq} (the row was altered)"
        )
    return None


async def _anchored(
    conn: asyncpg.Connection, procedure_id: str
) -> tuple[dict[str, dict[str, _Anchor]], list[_Batch]]:
    """table -> record id -> its anchor, from the chain; and the batches of statements."""
    anchored: dict[str, dict[str, _Anchor]] = {t: {} for t in RECORD_FIELDS}
    batches: list[_Batch] = []
    rows = await conn.fetch(
        "SELECT seq, event_type, payload FROM events "
        "WHERE procedure_id = $1 AND event_type = ANY($2::text[]) ORDER BY seq",
        procedure_id,
        list(_TABLE_OF_EVENT),
    )
    for row in rows:
        table = _TABLE_OF_EVENT[row["event_type"]]
        data = json.loads(row["payload"])["data"]
        if table == "statements":
            form = data.get("digest_form")
            if form == BATCH_FORM:
                ids: list[str] = data["statements"]
                for statement_id, prefix in zip(ids, data["row_digests"], strict=True):
                    anchored[table][statement_id] = _Anchor(row["seq"], prefix, form)
                batches.append(_Batch(row["seq"], ids, data["batch_digest"]))
            else:
                for statement_id, digest in data["statements"]:
                    anchored[table][statement_id] = _Anchor(row["seq"], digest, form)
        else:
            anchor = _Anchor(row["seq"], data["digest"], kind=data.get("kind"))
            anchored[table][str(data[_KEY_OF_TABLE[table]])] = anchor
    return anchored, batches


def _batch_problems(
    batches: list[_Batch], full_digests: dict[str, bytes], named: set[str]
) -> list[str]:
    """Batches whose rows are all there, none named as altered, yet their full digests differ
    from the recorded one: rows rewritten so that their digest prefixes still match."""
    problems = []
    for batch in batches:
        if any(i not in full_digests or i in named for i in batch.ids):
            continue  # a missing or altered row of this batch is named already
        if batch_digest([full_digests[i] for i in batch.ids]) != batch.digest:
            problems.append(
                f"statements of event seq {batch.seq}: the stored rows' digests differ from "
                "the batch digest recorded there, though each row's digest prefix matches "
                "(rows were altered)"
            )
    return problems


async def verify_procedure(
    pool: asyncpg.Pool, procedure_id: str, *, max_problems: int = 20
) -> ProcedureReport:
    """Verify the chain; if it holds, check every record of the procedure against it."""
    chain = await verify_chain(pool, procedure_id)
    if not chain.ok:
        return ProcedureReport(chain)
    problems: list[str] = []
    checked = 0
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        anchored, batches = await _anchored(conn, procedure_id)
        full_digests: dict[str, bytes] = {}
        altered: set[str] = set()
        for table in RECORD_FIELDS:
            key = _KEY_OF_TABLE[table]
            expected = anchored[table]
            seen: set[str] = set()
            cursor = conn.cursor(
                f"SELECT * FROM {table} WHERE procedure_id = $1 ORDER BY {key}",
                procedure_id,
                prefetch=1000,
            )
            async for found in cursor:
                record_id = str(found[key])
                # A statement id is a uuid since migration 0006; digests cover its text form.
                row = {**found, key: record_id} if table == "statements" else found
                seen.add(record_id)
                checked += 1
                anchor = expected.get(record_id)
                if anchor is None:
                    problems.append(f"{table} {record_id}: not anchored in the audit chain")
                elif (
                    problem := _row_problem(table, record_id, row, anchor, full_digests)
                ) is not None:
                    problems.append(problem)
                    altered.add(record_id)
            for record_id in sorted(set(expected) - seen):
                problems.append(
                    f"{table} {record_id}: recorded in event seq {expected[record_id].seq} "
                    "but missing from the table"
                )
        problems += _batch_problems(batches, full_digests, altered)
    return ProcedureReport(chain, problems[:max_problems], checked)
