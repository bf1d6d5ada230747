"""The statement key since migration 0006 (a uuid alone) and the batch form of the audit event:
old statements stay verifiable, ids that the key cannot hold are refused with the field named,
and verify names altered rows and catches what their digest prefixes would miss."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError

from activities import contracts
from activities.records import StatementRecord, stable_id
from activities.storage import intake
from activities.storage.activities import StorageActivities
from activities.storage.audit import NewEvent, append_events
from activities.storage.canonical import STATEMENT_ROW_FORM, statement_digest, statement_row_digest
from activities.storage.migrate import MigrationError, apply_migrations, available_migrations
from activities.storage.pool import create_pool
from activities.storage.verify import verify_procedure
from activities.storage.writes import RECORD_FIELDS
from tests.helpers import drop_schema
from tests.storage.conftest import PROCEDURE, scan_for_procedure, statement


def _row(record: StatementRecord) -> tuple[object, ...]:
    return tuple(getattr(record, c) for c in intake.STATEMENT_COLUMNS)


async def _schema_before_0006(database_url: str) -> tuple[asyncpg.Pool, str]:
    schema = f"t_key_{uuid.uuid4().hex[:16]}"
    pool = await create_pool(database_url, schema=schema, max_size=2)
    async with pool.acquire() as conn:
        await apply_migrations(conn, [m for m in available_migrations() if m.version < 6])
    return pool, schema


async def test_migration_0006_keeps_statements_of_both_old_digest_forms_verifiable(
    database_url: str,
) -> None:
    pool, schema = await _schema_before_0006(database_url)
    netstring, row_form = [statement(1), statement(2)], [statement(3), statement(4)]
    try:
        async with pool.acquire() as conn, conn.transaction():
            await conn.copy_records_to_table(
                "statements",
                records=[_row(r) for r in netstring + row_form],
                columns=intake.STATEMENT_COLUMNS,
            )
            first = [
                [
                    r.statement_id,
                    statement_digest(*(getattr(r, f) for f in RECORD_FIELDS["statements"])),
                ]
                for r in netstring
            ]
            # The digests intake wrote before 0006: the id was sent (and hashed) as text.
            second = [[r.statement_id, statement_row_digest(_row(r))] for r in row_form]
            at = row_form[-1].received_at
            await append_events(
                conn,
                PROCEDURE,
                [
                    NewEvent("netstring", "statements.stored", at, {"statements": first}),
                    NewEvent(
                        "row-form",
                        "statements.stored",
                        at,
                        {"statements": second, "digest_form": STATEMENT_ROW_FORM},
                    ),
                ],
            )
            applied = await apply_migrations(conn)
        assert [m.version for m in applied] == [m.version for m in available_migrations()][5:]
        report = await verify_procedure(pool, PROCEDURE)
        assert report.ok, report.record_problems
        assert report.records_checked == 4
        types = dict(
            await pool.fetch(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "WHERE a.attrelid = 'statements'::regclass AND a.attname IN "
                "('procedure_id', 'statement_id')"
            )
        )
        assert types == {"procedure_id": "text", "statement_id": "uuid"}

        for victim in (netstring[1], row_form[0]):
            await pool.execute(
                "UPDATE statements SET text = text || '!' WHERE statement_id = $1",
                victim.statement_id,
            )
        problems = (await verify_procedure(pool, PROCEDURE)).record_problems
        assert problems == [
            f"statements {victim.statement_id}: stored fields differ from the digest recorded "
            f"in event seq {seq} (the row was altered)"
            for victim, seq in sorted(
                [(netstring[1], 1), (row_form[0], 2)], key=lambda p: p[0].statement_id
            )
        ]
    finally:
        await pool.close()
        await drop_schema(database_url, schema)


async def test_migration_0006_stops_at_an_id_that_is_not_a_uuid_and_names_it(
    database_url: str,
) -> None:
    pool, schema = await _schema_before_0006(database_url)
    try:
        async with pool.acquire() as conn:
            odd = statement(2).model_copy(update={"statement_id": "S-2"})
            await conn.copy_records_to_table(
                "statements",
                records=[_row(statement(1)), _row(odd)],
                columns=intake.STATEMENT_COLUMNS,
            )
            with pytest.raises(MigrationError, match=r"statement_id 'S-2' \(procedure "):
                await apply_migrations(conn)
            # Nothing of 0006 was applied: its transaction rolled back whole.
            assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 5
            assert await conn.fetchval("SELECT count(*) FROM statements") == 2
    finally:
        await pool.close()
        await drop_schema(database_url, schema)


@pytest.mark.parametrize(
    "bad",
    [
        "s-2",
        str(uuid.uuid4()).upper(),  # the column would read it back in lower case
        "{" + str(uuid.uuid4()) + "}",
        str(uuid.uuid4()).replace("-", ""),
    ],
)
async def test_an_id_that_is_not_a_lower_case_uuid_is_refused_before_any_write(
    storage: StorageActivities, db_pool: asyncpg.Pool, bad: str
) -> None:
    batch = [statement(1), statement(2).model_copy(update={"statement_id": bad})]
    async with db_pool.acquire() as conn:
        with pytest.raises(
            ValueError, match=r"statements\[1\]\.statement_id: expected a lower-case uuid"
        ):
            await intake.store_statements(conn, PROCEDURE, batch)
    with pytest.raises(ApplicationError) as caught:
        await storage.store_statements(
            contracts.StoreStatementsInput(procedure_id=PROCEDURE, statements=batch)
        )
    assert caught.value.non_retryable
    assert repr(bad) in str(caught.value)
    assert await db_pool.fetchval("SELECT count(*) FROM statements") == 0
    assert await db_pool.fetchval("SELECT count(*) FROM events") == 0


async def test_an_id_stored_for_another_procedure_is_named_and_nothing_is_stored(
    db_pool: asyncpg.Pool,
) -> None:
    mine = statement(1)
    reused = statement(1, "other-procedure").model_copy(update={"statement_id": mine.statement_id})
    async with db_pool.acquire() as conn:
        await intake.store_statements(conn, PROCEDURE, [mine])
        with pytest.raises(
            ValueError, match=r"statements\[1\]\.statement_id: .* another procedure"
        ):
            await intake.store_statements(
                conn, "other-procedure", [statement(2, "other-procedure"), reused]
            )
    assert (
        await db_pool.fetchval(
            "SELECT count(*) FROM statements WHERE procedure_id = 'other-procedure'"
        )
        == 0
    )
    assert await db_pool.fetchval("SELECT count(*) FROM events") == 1


async def test_a_procedures_statements_are_read_from_its_own_block_ranges(
    db_pool: asyncpg.Pool,
) -> None:
    """Public counts, verify and erasure select by procedure; since migration 0007 a BRIN
    bloom index on `procedure_id` serves them: summarised ranges of other procedures are
    skipped, rows in ranges not yet summarised are still found."""
    others = ["procedure-a", "procedure-b"]
    async with db_pool.acquire() as conn:
        for k in range(3):  # interleaved batches, as concurrent hearings write them
            for procedure_id in [PROCEDURE, *others]:
                batch = [statement(n, procedure_id) for n in range(k * 300 + 1, k * 300 + 301)]
                await intake.store_statements(conn, procedure_id, batch)
        await conn.execute("VACUUM statements")  # summarises every full range
        late = [statement(n) for n in range(901, 951)]  # lands in ranges not yet summarised
        await intake.store_statements(conn, PROCEDURE, late)
        pages = await conn.fetchval(
            "SELECT pg_relation_size('statements') / current_setting('block_size')::int"
        )
        own_ranges = await conn.fetchval(  # the 16-page ranges that hold a row of PROCEDURE
            "SELECT count(DISTINCT (ctid::text::point)[0]::int / 16) FROM statements "
            "WHERE procedure_id = $1",
            PROCEDURE,
        )
        scan = await scan_for_procedure(conn, PROCEDURE)
    assert scan.indexes == ["statements_procedure_brin"]
    assert scan.rows == 950  # every row of the procedure, the late ones too
    read = scan.heap_blocks
    assert read <= own_ranges * 16  # only ranges that hold its rows (or are unsummarised) ...
    assert read < pages - 4 * 16  # ... and the other procedures' ranges were skipped


async def test_the_batch_event_names_each_altered_row_and_is_half_the_old_size(
    db_pool: asyncpg.Pool,
) -> None:
    batches = [[statement(n) for n in range(k * 500 + 1, k * 500 + 501)] for k in range(2)]
    async with db_pool.acquire() as conn:
        for batch in batches:
            await intake.store_statements(conn, PROCEDURE, batch)
    payloads: list[str] = [
        r["payload"]
        for r in await db_pool.fetch(
            "SELECT payload FROM events WHERE event_type = 'statements.stored' ORDER BY seq"
        )
    ]
    assert max(len(p) for p in payloads) < 500 * 64  # ~108 bytes a statement with full digests
    data = json.loads(payloads[0])["data"]
    assert data["statements"] == [s.statement_id for s in batches[0]]
    assert data["digest_form"] == intake.BATCH_FORM
    assert (await verify_procedure(db_pool, PROCEDURE)).ok

    altered, deleted = batches[0][10], batches[1][20]
    await db_pool.execute(
        "UPDATE statements SET round = 2 WHERE statement_id = $1", altered.statement_id
    )
    await db_pool.execute("DELETE FROM statements WHERE statement_id = $1", deleted.statement_id)
    problems = (await verify_procedure(db_pool, PROCEDURE)).record_problems
    assert problems == [
        f"statements {altered.statement_id}: stored fields differ from the digest recorded in "
        "event seq 1 (the row was altered)",
        f"statements {deleted.statement_id}: recorded in event seq 2 but missing from the table",
    ]


async def test_the_batch_digest_catches_rows_whose_digest_prefixes_still_match(
    db_pool: asyncpg.Pool,
) -> None:
    """Forging a row to a recorded 64-bit prefix is out of reach in practice, but the batch
    digest (full sha256 of every row) is what proves the rows: checked on its own here."""
    records = [statement(1), statement(2)]
    full = [intake.row_digest(_row(r)) for r in records]
    async with db_pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "statements", records=[_row(r) for r in records], columns=intake.STATEMENT_COLUMNS
        )
        data = {
            "statements": [r.statement_id for r in records],
            "row_digests": [d.hex()[: intake.DIGEST_PREFIX] for d in full],
            "batch_digest": intake.batch_digest(list(reversed(full))),  # not the rows' digest
            "digest_form": intake.BATCH_FORM,
        }
        at = records[-1].received_at
        await append_events(conn, PROCEDURE, [NewEvent("batch", "statements.stored", at, data)])
    assert (await verify_procedure(db_pool, PROCEDURE)).record_problems == [
        "statements of event seq 1: the stored rows' digests differ from the batch digest "
        "recorded there, though each row's digest prefix matches (rows were altered)"
    ]


def test_the_stable_ids_of_statements_are_what_the_key_holds() -> None:
    sid = stable_id(PROCEDURE, "statement", "any key")
    assert str(uuid.UUID(sid)) == sid
