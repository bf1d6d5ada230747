"""A procedure's definition kind: stored, backfilled by migration 0004, anchored, matched."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from activities import contracts
from activities.records import ProcedureRecord
from activities.storage.activities import StorageActivities
from activities.storage.migrate import apply_migrations, available_migrations
from activities.storage.pool import create_pool
from activities.storage.verify import verify_procedure
from tests.helpers import drop_schema
from tests.storage.conftest import PROCEDURE, T0, digest, event, procedure_record


def kinded(procedure_id: str = PROCEDURE, kind: str | None = "bauleitplanung") -> ProcedureRecord:
    return procedure_record(procedure_id).model_copy(update={"kind": kind})


async def test_kind_is_stored_and_anchored_in_the_chain(
    storage: StorageActivities, db_pool: asyncpg.Pool
) -> None:
    await storage.record_procedure(contracts.RecordProcedureInput(procedure=kinded()))
    await storage.record_procedure(
        contracts.RecordProcedureInput(procedure=kinded("without-kind", None))
    )
    kinds = dict(await db_pool.fetch("SELECT procedure_id, kind FROM procedures"))
    assert kinds == {PROCEDURE: "bauleitplanung", "without-kind": None}
    payload = json.loads(
        await db_pool.fetchval(
            "SELECT payload FROM events WHERE procedure_id = $1 AND event_type = "
            "'procedure.recorded'",
            PROCEDURE,
        )
    )
    assert payload["data"]["kind"] == "bauleitplanung"
    assert (await verify_procedure(db_pool, PROCEDURE)).ok
    assert (await verify_procedure(db_pool, "without-kind")).ok

    await db_pool.execute(
        "UPDATE procedures SET kind = 'buergerrat' WHERE procedure_id = $1", PROCEDURE
    )
    assert (await verify_procedure(db_pool, PROCEDURE)).record_problems == [
        f"procedures {PROCEDURE}: kind 'buergerrat' differs from 'bauleitplanung' recorded in "
        "event seq 1 (the row was altered)"
    ]


def test_an_empty_kind_is_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="kind"):
        ProcedureRecord.model_validate({**procedure_record().model_dump(), "kind": ""})


async def test_migration_0004_backfills_catalogue_kinds_and_leaves_others_unknown(
    database_url: str,
) -> None:
    schema = f"t_kind_{uuid.uuid4().hex[:16]}"
    migrations = available_migrations()
    before = [m for m in migrations if m.version < 4]
    pool = await create_pool(database_url, schema=schema, max_size=1)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn, before)
            for procedure_id, definition_id in [
                ("p-planning", "baugb-3-2"),
                ("p-assembly", "buergerrat"),
                ("p-own", "stadt-eigenes-format"),
            ]:
                await conn.execute(
                    "INSERT INTO procedures (procedure_id, definition_id, definition_version, "
                    "definition_hash, title, municipality, land, started_at) "
                    "VALUES ($1, $2, '1', $3, 't', '08221000', 'BW', $4)",
                    procedure_id,
                    definition_id,
                    digest(definition_id),
                    T0,
                )
            applied = await apply_migrations(conn)
            assert [m.name for m in applied if m.version == 4] == ["procedure_kind"]
            kinds = dict(await conn.fetch("SELECT procedure_id, kind FROM procedures"))
            assert kinds == {
                "p-planning": "bauleitplanung",
                "p-assembly": "buergerrat",
                "p-own": None,
            }
            assert await apply_migrations(conn) == []  # applied once, checksum recorded
    finally:
        await pool.close()
        await drop_schema(database_url, schema)


async def test_webhooks_match_the_kind_or_the_definition_id(
    storage: StorageActivities, db_pool: asyncpg.Pool
) -> None:
    await storage.record_procedure(contracts.RecordProcedureInput(procedure=kinded()))
    for sub_id, kind in [
        ("by-kind", "bauleitplanung"),
        ("by-definition", "baugb_3_2"),
        ("other-kind", "buergerrat"),
        ("any", None),
    ]:
        await db_pool.execute(
            "INSERT INTO webhook_subscriptions (subscription_id, url, secret_ref, "
            "procedure_kind) VALUES ($1, 'http://127.0.0.1:9/', 'hooks', $2)",
            sub_id,
            kind,
        )
    await storage.append_events(
        contracts.AppendEventsInput(procedure_id=PROCEDURE, events=[event(1)])
    )
    recipients = await db_pool.fetch("SELECT recipient FROM outbox ORDER BY recipient")
    assert [r["recipient"] for r in recipients] == ["any", "by-definition", "by-kind"]
