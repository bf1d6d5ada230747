"""`record_procedure` with the events that come with it: one transaction, never doubled."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError

from activities import contracts
from activities.storage.activities import StorageActivities
from activities.storage.verify import verify_procedure
from tests.storage.conftest import PROCEDURE, event, procedure_record
from tests.storage.test_outbox import outbox, subscribe


def started(n: int = 1) -> contracts.RecordProcedureInput:
    return contracts.RecordProcedureInput(
        procedure=procedure_record(), events=[event(n, type="procedure.started")]
    )


async def test_the_row_and_its_events_are_written_together_once(
    storage: StorageActivities, db_pool: asyncpg.Pool
) -> None:
    await subscribe(db_pool, "http://127.0.0.1:9/a", types=["de.civicflow.procedure.*"])
    first, again = await asyncio.gather(
        storage.record_procedure(started()), storage.record_procedure(started())
    )
    assert sorted([first.created, again.created]) == [False, True]
    rows = await db_pool.fetch(
        "SELECT seq, event_type FROM events WHERE procedure_id = $1 ORDER BY seq", PROCEDURE
    )
    assert [(r["seq"], r["event_type"]) for r in rows] == [
        (1, "procedure.recorded"),
        (2, "procedure.started"),
    ]
    assert await db_pool.fetchval("SELECT count(*) FROM procedures") == 1
    messages = await outbox(db_pool)
    assert [(m["channel"], m["recipient"]) for m in messages] == [("webhook", "portal")]
    assert (await verify_procedure(db_pool, PROCEDURE)).ok


async def test_a_retry_after_the_events_moved_on_appends_nothing_again(
    storage: StorageActivities, db_pool: asyncpg.Pool
) -> None:
    await storage.record_procedure(started())
    await storage.append_events(
        contracts.AppendEventsInput(procedure_id=PROCEDURE, events=[event(2)])
    )
    retry = await storage.record_procedure(started())
    assert not retry.created
    types = await db_pool.fetch(
        "SELECT event_type FROM events WHERE procedure_id = $1 ORDER BY seq", PROCEDURE
    )
    assert [r["event_type"] for r in types] == [
        "procedure.recorded",
        "procedure.started",
        "phase.changed",
    ]


async def test_an_event_of_another_procedure_is_refused_naming_the_field(
    storage: StorageActivities, db_pool: asyncpg.Pool
) -> None:
    call = contracts.RecordProcedureInput(
        procedure=procedure_record(), events=[event(1, "another-procedure")]
    )
    with pytest.raises(ApplicationError, match="events") as caught:
        await storage.record_procedure(call)
    assert caught.value.non_retryable
    assert await db_pool.fetchval("SELECT count(*) FROM procedures") == 0
