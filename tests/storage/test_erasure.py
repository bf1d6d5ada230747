"""Erasure: personal data disappears from every table; the audit chain stays verifiable."""

from __future__ import annotations

import asyncpg
import pytest

from activities import contracts
from activities.storage.activities import StorageActivities
from activities.storage.audit import verify_chain
from activities.storage.erasure import UnknownParticipantError, erase_participant
from activities.storage.verify import verify_procedure
from tests.storage.conftest import participant, statement


async def everything(pool: asyncpg.Pool) -> str:
    """Every row of every table in the test's schema, as one text (for "is it gone?")."""
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    dumps = []
    for table in tables:
        rows = await pool.fetch(f'SELECT row_to_json(t)::text FROM "{table[0]}" t')
        dumps.extend(row[0] for row in rows)
    return "\n".join(dumps)


async def test_erasure_removes_personal_data_and_keeps_the_chain_valid(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    erika, max_ = participant(1), participant(2)
    for person in (erika, max_):
        await storage.register_participant(contracts.RegisterParticipantInput(participant=person))
    await storage.store_statements(
        contracts.StoreStatementsInput(
            procedure_id=procedure,
            statements=[
                statement(1).model_copy(update={"author_ref": erika.participant_id}),
                statement(2),
            ],
        )
    )
    before = await everything(db_pool)
    assert erika.email is not None
    assert erika.email in before
    head_before = (await verify_chain(db_pool, procedure)).last_hash

    result = await erase_participant(db_pool, erika.participant_id)

    after = await everything(db_pool)
    for personal in (erika.name, erika.email, erika.address):
        assert personal is not None
        assert personal not in after
    assert max_.email is not None
    assert max_.email in after
    # The chain grew by one participant.erased event and still verifies; so do the records.
    chain = await verify_chain(db_pool, procedure)
    assert chain.ok, chain.broken
    assert chain.last_hash != head_before
    assert (await verify_procedure(db_pool, procedure)).ok
    assert result.erased_now
    erased = await db_pool.fetchrow(
        "SELECT erased_at, pseudonym FROM participants WHERE participant_id = $1",
        erika.participant_id,
    )
    assert erased["erased_at"] is not None
    # The statement stays, attributed to the opaque id only.
    author = await db_pool.fetchval(
        "SELECT author_ref FROM statements WHERE statement_id = $1", statement(1).statement_id
    )
    assert author == erika.participant_id


async def test_erasure_is_idempotent_and_a_retried_registration_does_not_undo_it(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    erika = participant(1)
    call = contracts.RegisterParticipantInput(participant=erika)
    await storage.register_participant(call)
    first = await erase_participant(db_pool, erika.participant_id)
    second = await erase_participant(db_pool, erika.participant_id)
    late_retry = await storage.register_participant(call)
    assert (first.erased_now, second.erased_now, late_retry.created) == (True, False, False)
    assert await db_pool.fetchval("SELECT count(*) FROM participant_personal") == 0
    events = await db_pool.fetchval(
        "SELECT count(*) FROM events WHERE event_type = 'participant.erased'"
    )
    assert events == 1


async def test_unknown_participant_is_reported(db_pool: asyncpg.Pool) -> None:
    with pytest.raises(UnknownParticipantError, match="'nobody': no such participant"):
        await erase_participant(db_pool, "nobody")
