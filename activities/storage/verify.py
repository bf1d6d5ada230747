"""Whole-procedure verification: the hash chain, then every stored record against it.

The chain proves the events unaltered; each `*.stored` event carries the digest of the record
it anchors, so recomputing the digests from the tables proves the records unaltered too (a
statement's text edited in the database, a vote deleted, a row smuggled in).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import NamedTuple

import asyncpg

from activities.storage.audit import ChainReport, verify_chain
from activities.storage.canonical import STATEMENT_ROW_FORM, statement_row_digest
from activities.storage.intake import STATEMENT_COLUMNS
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
    form: str | None = None  # digest form of a statement: `STATEMENT_ROW_FORM` or None
    kind: str | None = None  # a procedure's kind, in events written since it was recorded


def _row_problem(table: str, record_id: str, row: asyncpg.Record, anchor: _Anchor) -> str | None:
    if anchor.form == STATEMENT_ROW_FORM:
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


async def _anchored(conn: asyncpg.Connection, procedure_id: str) -> dict[str, dict[str, _Anchor]]:
    """table -> record id -> its anchor, from the chain."""
    anchored: dict[str, dict[str, _Anchor]] = {t: {} for t in RECORD_FIELDS}
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
            for statement_id, digest in data["statements"]:
                anchored[table][statement_id] = _Anchor(row["seq"], digest, form)
        else:
            anchor = _Anchor(row["seq"], data["digest"], kind=data.get("kind"))
            anchored[table][str(data[_KEY_OF_TABLE[table]])] = anchor
    return anchored


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
        anchored = await _anchored(conn, procedure_id)
        for table in RECORD_FIELDS:
            key = _KEY_OF_TABLE[table]
            expected = anchored[table]
            seen: set[str] = set()
            cursor = conn.cursor(
                f"SELECT * FROM {table} WHERE procedure_id = $1 ORDER BY {key}",
                procedure_id,
                prefetch=1000,
            )
            async for row in cursor:
                record_id = str(row[key])
                seen.add(record_id)
                checked += 1
                anchor = expected.get(record_id)
                if anchor is None:
                    problems.append(f"{table} {record_id}: not anchored in the audit chain")
                elif (problem := _row_problem(table, record_id, row, anchor)) is not None:
                    problems.append(problem)
            for record_id in sorted(set(expected) - seen):
                problems.append(
                    f"{table} {record_id}: recorded in event seq {expected[record_id].seq} "
                    "but missing from the table"
                )
    return ProcedureReport(chain, problems[:max_problems], checked)
