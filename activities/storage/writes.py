"""Single-record writes: insert once, anchor the record in the audit chain, report duplicates.

Each write is one transaction: `INSERT ... ON CONFLICT DO NOTHING RETURNING`, and only when the
row is new, a `<record>.stored` audit event whose data carries the record's digest (sha256 over
its stored fields, see `RECORD_FIELDS`). A retry finds the row, appends nothing and returns the
existing id with `created=False`; `verify_records` later recomputes each digest from the table.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from activities.records import (
    CommitmentRecord,
    DecisionRecord,
    ParticipantRecord,
    ProcedureRecord,
    ProgressReportRecord,
    VoteRecord,
    stable_id,
)
from activities.storage.audit import NewEvent, append_events
from activities.storage.canonical import record_digest, salted_digest, statement_digest

__all__ = [
    "RECORD_FIELDS",
    "RECORD_KEYS",
    "digest_of",
    "record_procedure",
    "register_participant",
    "row_values",
    "store_commitment",
    "store_decision",
    "store_progress_report",
    "store_vote",
]

log = logging.getLogger(__name__)

# The fields each record's digest covers, in order. Mutable columns (a commitment's current
# status) are left out: their history is in its own table and in the chain.
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "procedures": (
        "procedure_id", "definition_id", "definition_version", "definition_hash", "title",
        "municipality", "land", "started_at", "parameters",
    ),
    "participants": ("participant_id", "role", "language", "pseudonym", "registered_at"),
    "statements": (
        "statement_id", "sequence", "round", "phase_id", "author_ref", "statement_type", "text",
        "attachments", "received_at", "late", "receipt_digest",
    ),
    "votes": (
        "vote_id", "round", "phase_id", "proposal_id", "voter_ref", "choice", "cast_at",
        "receipt_digest",
    ),
    "decisions": (
        "decision_id", "round", "phase_id", "body", "outcome", "title", "text", "decided_at",
        "receipt_digest",
    ),
    "commitments": (
        "commitment_id", "phase_id", "owner_role", "owner_organisation", "title",
        "measurable_aim", "due_date", "created_at", "receipt_digest",
    ),
    "progress_reports": (
        "report_id", "commitment_id", "phase_id", "status", "progress_percent", "text",
        "reporter_ref", "reported_at", "receipt_digest",
    ),
}  # fmt: skip

# Table -> (key column, event type of its `.stored` event).
RECORD_KEYS: dict[str, tuple[str, str]] = {
    "procedures": ("procedure_id", "procedure.recorded"),
    "participants": ("participant_id", "participant.registered"),
    "votes": ("vote_id", "vote.stored"),
    "decisions": ("decision_id", "decision.stored"),
    "commitments": ("commitment_id", "commitment.stored"),
    "progress_reports": ("report_id", "progress_report.stored"),
}


def digest_of(table: str, values: Mapping[str, Any]) -> str:
    """The record digest of a row or record of `table` (same result for both)."""
    fields = [values[name] for name in RECORD_FIELDS[table]]
    if table == "statements":
        return statement_digest(*fields)
    return record_digest(*fields)


def row_values(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row as the values its digest was computed from (jsonb arrives as text)."""
    values = {name: row[name] for name in RECORD_FIELDS[table]}
    if table == "procedures" and isinstance(values["parameters"], str):
        values["parameters"] = json.loads(values["parameters"])
    return values


async def _insert_once(
    conn: asyncpg.Connection,
    table: str,
    procedure_id: str,
    values: dict[str, Any],
    occurred_at: datetime,
    extra_event_data: Mapping[str, Any] | None = None,
) -> tuple[str, bool]:
    """Insert `values` into `table` unless its key exists; on insert, append its audit event."""
    key, event_type = RECORD_KEYS[table]
    columns = list(values)
    params = [
        json.dumps(v) if table == "procedures" and c == "parameters" else v
        for c, v in values.items()
    ]
    placeholders = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    inserted = await conn.fetchval(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"ON CONFLICT DO NOTHING RETURNING {key}",
        *params,
    )
    if inserted is None:
        existing = await conn.fetchrow(
            f"SELECT * FROM {table} WHERE {key} = $1 AND procedure_id = $2",
            values[key],
            procedure_id,
        )
        if existing is None and table == "votes":
            # Another vote id already holds this voter's vote on the proposal.
            existing = await conn.fetchrow(
                "SELECT * FROM votes WHERE procedure_id = $1 AND proposal_id = $2 "
                "AND voter_ref = $3",
                procedure_id,
                values["proposal_id"],
                values["voter_ref"],
            )
        if existing is None:
            msg = f"{table}: {key} {values[key]!r} conflicts with a row of another procedure"
            raise ValueError(msg)
        if table != "participants" and digest_of(table, row_values(table, existing)) != digest_of(
            table, values
        ):
            log.warning(
                "idempotency key reused with different content",
                extra={"table": table, "key": str(existing[key])},
            )
        return str(existing[key]), False
    data = {key: values[key], "digest": digest_of(table, values), **(extra_event_data or {})}
    event = NewEvent(
        event_id=stable_id(procedure_id, event_type, str(values[key])),
        event_type=event_type,
        occurred_at=occurred_at,
        data=data,
    )
    await append_events(conn, procedure_id, [event])
    return str(inserted), True


async def record_procedure(conn: asyncpg.Connection, record: ProcedureRecord) -> tuple[str, bool]:
    values = record.model_dump()
    extra = {
        "definition_id": record.definition_id,
        "definition_version": record.definition_version,
        "definition_hash": record.definition_hash,
        "municipality": record.municipality,
    }
    if record.kind is not None:
        # Hashed in the chain with the event; not part of the record digest, which rows
        # recorded before the column existed were anchored without (`verify` checks both).
        extra["kind"] = record.kind
    return await _insert_once(
        conn, "procedures", record.procedure_id, values, record.started_at, extra
    )


async def register_participant(
    conn: asyncpg.Connection, record: ParticipantRecord
) -> tuple[str, bool]:
    """Participant row (no personal data) plus its personal row; the chain sees a pseudonym."""
    salt = os.urandom(16)
    contact = record.email or record.name or record.address or record.participant_id
    values = {
        "procedure_id": record.procedure_id,
        "participant_id": record.participant_id,
        "role": record.role,
        "language": record.language,
        "pseudonym": salted_digest(salt, contact),
        "registered_at": record.registered_at,
    }
    extra = {"role": record.role}
    participant_id, created = await _insert_once(
        conn, "participants", record.procedure_id, values, record.registered_at, extra
    )
    if created:
        await conn.execute(
            "INSERT INTO participant_personal (participant_id, salt, name, email, address, "
            "organisation) VALUES ($1, $2, $3, $4, $5, $6)",
            record.participant_id,
            salt,
            record.name,
            record.email,
            record.address,
            record.organisation,
        )
    return participant_id, created


async def store_vote(conn: asyncpg.Connection, record: VoteRecord) -> tuple[str, bool]:
    return await _insert_once(
        conn, "votes", record.procedure_id, record.model_dump(), record.cast_at
    )


async def store_decision(conn: asyncpg.Connection, record: DecisionRecord) -> tuple[str, bool]:
    extra = {"outcome": record.outcome, "body": record.body}
    return await _insert_once(
        conn, "decisions", record.procedure_id, record.model_dump(), record.decided_at, extra
    )


async def store_commitment(conn: asyncpg.Connection, record: CommitmentRecord) -> tuple[str, bool]:
    """The commitment and the first entry of its status history."""
    values = {**record.model_dump(), "status_changed_at": record.created_at}
    extra = {"status": record.status, "due_date": record.due_date.isoformat()}
    commitment_id, created = await _insert_once(
        conn, "commitments", record.procedure_id, values, record.created_at, extra
    )
    if created:
        await conn.execute(
            "INSERT INTO commitment_status_history (procedure_id, commitment_id, change_id, "
            "status, changed_at) VALUES ($1, $2, 'created', $3, $4)",
            record.procedure_id,
            record.commitment_id,
            record.status,
            record.created_at,
        )
    return commitment_id, created


async def store_progress_report(
    conn: asyncpg.Connection, record: ProgressReportRecord
) -> tuple[str, bool]:
    """The report, a status-history row, and the commitment's current status (newest wins)."""
    extra = {"commitment_id": record.commitment_id, "status": record.status}
    values = record.model_dump()
    report_id, created = await _insert_once(
        conn, "progress_reports", record.procedure_id, values, record.reported_at, extra
    )
    if created:
        await conn.execute(
            "INSERT INTO commitment_status_history (procedure_id, commitment_id, change_id, "
            "status, changed_at) VALUES ($1, $2, $3, $4, $5)",
            record.procedure_id,
            record.commitment_id,
            record.report_id,
            record.status,
            record.reported_at,
        )
        # Reports may arrive out of order (a retried activity): an older one never wins.
        await conn.execute(
            "UPDATE commitments SET status = $3, status_changed_at = $4 "
            "WHERE procedure_id = $1 AND commitment_id = $2 AND status_changed_at <= $4",
            record.procedure_id,
            record.commitment_id,
            record.status,
            record.reported_at,
        )
    return report_id, created
