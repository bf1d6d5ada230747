"""`civicflow audit verify`, `participants erase` and `outbox incidents` against a real database.

The commands call `asyncio.run`, so they run in a worker thread (the test's loop is busy).
"""

from __future__ import annotations

import asyncio

import asyncpg
from typer.testing import CliRunner, Result

from activities import contracts
from activities.storage.activities import StorageActivities
from tests.storage.conftest import event, participant, statement
from worker.cli import app


async def civicflow(database_url: str, schema: str, *args: str) -> Result:
    options = ["--database-url", database_url, "--database-schema", schema]
    return await asyncio.to_thread(CliRunner().invoke, app, [*args, *options])


async def test_audit_verify_passes_then_names_the_tampered_row(
    storage: StorageActivities,
    db_pool: asyncpg.Pool,
    database_url: str,
    db_schema: str,
    procedure: str,
) -> None:
    await storage.store_statements(
        contracts.StoreStatementsInput(
            procedure_id=procedure, statements=[statement(n) for n in range(1, 4)]
        )
    )
    ok = await civicflow(database_url, db_schema, "audit", "verify", procedure)
    assert ok.exit_code == 0, ok.output
    assert f"OK: procedure {procedure}: 2 events, 4 records verified" in ok.output

    async with db_pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        await conn.execute(
            "UPDATE events SET payload = replace(payload, 'statements', 'Statements') WHERE seq = 2"
        )
        await conn.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")
    broken = await civicflow(database_url, db_schema, "audit", "verify", procedure)
    assert broken.exit_code == 1
    assert "BROKEN" in broken.output
    assert "chain breaks at seq 2" in broken.output


async def test_audit_verify_names_an_altered_record(
    storage: StorageActivities,
    db_pool: asyncpg.Pool,
    database_url: str,
    db_schema: str,
    procedure: str,
) -> None:
    await storage.store_statements(
        contracts.StoreStatementsInput(procedure_id=procedure, statements=[statement(1)])
    )
    await db_pool.execute("UPDATE statements SET late = NOT late")
    result = await civicflow(database_url, db_schema, "audit", "verify", procedure)
    assert result.exit_code == 1
    assert f"statements {statement(1).statement_id}" in result.output
    assert "altered" in result.output


async def test_audit_verify_of_an_unknown_procedure_is_not_ok(
    database_url: str, db_schema: str
) -> None:
    result = await civicflow(database_url, db_schema, "audit", "verify", "no-such-procedure")
    assert result.exit_code == 2
    assert "no audit events for procedure no-such-procedure" in result.output


async def test_participants_erase_command(
    storage: StorageActivities,
    db_pool: asyncpg.Pool,
    database_url: str,
    db_schema: str,
    procedure: str,
) -> None:
    erika = participant(1)
    await storage.register_participant(contracts.RegisterParticipantInput(participant=erika))
    erased = await civicflow(database_url, db_schema, "participants", "erase", erika.participant_id)
    again = await civicflow(database_url, db_schema, "participants", "erase", erika.participant_id)
    unknown = await civicflow(database_url, db_schema, "participants", "erase", "nobody")
    assert erased.exit_code == 0, erased.output
    assert f"erased personal data of participant {erika.participant_id}" in erased.output
    assert (again.exit_code, unknown.exit_code) == (0, 1)
    assert "already erased" in again.output
    assert await db_pool.fetchval("SELECT count(*) FROM participant_personal") == 0
    verified = await civicflow(database_url, db_schema, "audit", "verify", procedure)
    assert verified.exit_code == 0, verified.output


async def test_outbox_incidents_command_lists_and_requeues(
    db_pool: asyncpg.Pool, database_url: str, db_schema: str
) -> None:
    none = await civicflow(database_url, db_schema, "outbox", "incidents")
    message_id = "0b6f0f2e-5a53-5c53-9f3d-3d0c8c6f3a11"
    await db_pool.execute(
        "INSERT INTO outbox (message_id, procedure_id, channel, recipient, payload, status, "
        "attempts, last_error) VALUES ($1, 'p1', 'webhook', 'portal', '{}', 'incident', 8, "
        "'webhook portal (example.org): temporary failure, HTTP 503')",
        message_id,
    )
    listed = await civicflow(database_url, db_schema, "outbox", "incidents")
    requeued = await civicflow(database_url, db_schema, "outbox", "requeue", message_id)
    again = await civicflow(database_url, db_schema, "outbox", "requeue", message_id)
    assert (none.exit_code, none.output.strip()) == (0, "no incidents")
    assert listed.exit_code == 1
    assert message_id in listed.output
    assert "HTTP 503" in listed.output
    assert requeued.exit_code == 0
    assert again.exit_code == 1
    assert await db_pool.fetchval("SELECT status FROM outbox") == "pending"


async def test_webhook_subscriptions_are_managed_by_reference_to_their_secret(
    storage: StorageActivities,
    db_pool: asyncpg.Pool,
    database_url: str,
    db_schema: str,
    procedure: str,
) -> None:
    args = ["outbox", "subscribe", "portal", "--url", "https://portal.example.org/hooks"]
    saved = await civicflow(
        database_url, db_schema, *args, "--secret-ref", "portal", "--type", "de.civicflow.*"
    )
    bad = await civicflow(
        database_url, db_schema, *args, "--secret-ref", "portal", "--municipality", "HD"
    )
    listed = await civicflow(database_url, db_schema, "outbox", "subscriptions")
    assert saved.exit_code == 0, saved.output
    assert bad.exit_code == 1
    assert "municipality: expected an 8-digit AGS key" in bad.output
    assert "portal  active  https://portal.example.org/hooks  secret_ref=portal" in listed.output
    await storage.append_events(
        contracts.AppendEventsInput(procedure_id=procedure, events=[event(1)])
    )
    assert await db_pool.fetchval("SELECT count(*) FROM outbox WHERE recipient = 'portal'") == 1
    gone = await civicflow(database_url, db_schema, "outbox", "unsubscribe", "portal")
    unknown = await civicflow(database_url, db_schema, "outbox", "unsubscribe", "nobody")
    assert (gone.exit_code, unknown.exit_code) == (0, 1)
    assert await db_pool.fetchval("SELECT active FROM webhook_subscriptions") is False


async def test_outbox_purge_keeps_everything_unfinished(
    db_pool: asyncpg.Pool, database_url: str, db_schema: str
) -> None:
    for n, status in enumerate(("delivered", "cancelled", "pending", "failed", "incident")):
        await db_pool.execute(
            "INSERT INTO outbox (message_id, procedure_id, channel, recipient, payload, status, "
            "updated_at) VALUES ($1, 'p1', 'mail', 'x', '{}', $2, now() - interval '40 days')",
            f"00000000-0000-5000-8000-00000000000{n}",
            status,
        )
    result = await civicflow(database_url, db_schema, "outbox", "purge", "--older-than-days", "30")
    assert result.exit_code == 0, result.output
    assert "purged 2" in result.output
    left = {r[0] for r in await db_pool.fetch("SELECT status FROM outbox")}
    assert left == {"pending", "failed", "incident"}
