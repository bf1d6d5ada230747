"""Erasure of a participant's personal data (GDPR Art. 17) without breaking the audit chain.

The chain never held personal data: it names participants by opaque id and a pseudonym (an
HMAC of the contact under a per-participant salt). Erasure deletes the personal row together
with that salt, so the pseudonym can no longer be linked to anyone, marks the participant
erased, cancels mail still waiting for them, and appends a `participant.erased` event. Nothing
in `events` changes, so `verify` still passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from activities.records import stable_id
from activities.storage.audit import NewEvent, append_events

__all__ = ["ErasureResult", "UnknownParticipantError", "erase_participant"]


class UnknownParticipantError(LookupError):
    """No participant with the given id is registered."""


@dataclass(frozen=True)
class ErasureResult:
    participant_id: str
    procedure_id: str
    erased_now: bool
    """False when the participant had been erased before (erasure is idempotent)."""
    mails_cancelled: int


async def erase_participant(
    pool: asyncpg.Pool, participant_id: str, *, now: datetime | None = None
) -> ErasureResult:
    """Remove the participant's personal data; keep the opaque id and the chain."""
    when = now or datetime.now(UTC)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT procedure_id, erased_at FROM participants WHERE participant_id = $1 FOR UPDATE",
            participant_id,
        )
        if row is None:
            msg = f"participant {participant_id!r}: no such participant is registered"
            raise UnknownParticipantError(msg)
        procedure_id: str = row["procedure_id"]
        if row["erased_at"] is not None:
            return ErasureResult(participant_id, procedure_id, erased_now=False, mails_cancelled=0)
        await conn.execute(
            "DELETE FROM participant_personal WHERE participant_id = $1", participant_id
        )
        await conn.execute(
            "UPDATE participants SET erased_at = $2 WHERE participant_id = $1", participant_id, when
        )
        cancelled: str = await conn.execute(
            "UPDATE outbox SET status = 'cancelled', last_error = 'recipient erased', "
            "updated_at = now() WHERE channel = 'mail' AND recipient = $1 "
            "AND status IN ('pending', 'failed', 'incident')",
            participant_id,
        )
        event = NewEvent(
            event_id=stable_id(procedure_id, "participant.erased", participant_id),
            event_type="participant.erased",
            occurred_at=when,
            data={"participant_id": participant_id},
        )
        await append_events(conn, procedure_id, [event])
    return ErasureResult(
        participant_id, procedure_id, erased_now=True, mails_cancelled=int(cancelled.split()[-1])
    )
