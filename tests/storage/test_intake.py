"""Batched intake through the hand-written binary COPY stream: what goes in comes back out,
every row is anchored in the chain, and bad rows fail the whole batch with a clear error."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activities.records import StatementRecord, stable_id
from activities.storage import intake
from activities.storage.audit import NewEvent, append_events, verify_chain
from activities.storage.canonical import statement_digest
from activities.storage.pgcopy import COLUMN_TYPES, encode_statement_rows
from activities.storage.verify import verify_procedure
from activities.storage.writes import RECORD_FIELDS
from tests.storage.conftest import PROCEDURE, digest, statement

STORED = ", ".join(
    "statement_id::text AS statement_id" if c == "statement_id" else c
    for c in intake.STATEMENT_COLUMNS
)
"""The columns of a statement record; the id (a uuid column) as the text records carry."""


def tricky_statements() -> list[StatementRecord]:
    """Values that test every field's encoding: NULL and set author, empty and long arrays,
    non-ASCII and separator-like text, an empty string, offsets, bounds of int4, late."""
    base = statement(1)
    return [
        base,
        base.model_copy(
            update={
                "statement_id": stable_id(PROCEDURE, "statement", "s-2"),
                "sequence": 2**31 - 1,
                "round": 7,
                "author_ref": "p-ä-7",
                "text": 'Grünfläche 3:4|5 [x] \t tab\nnew line \\ backslash "quote" 💡',
                "attachments": ["https://a.example/1.pdf", "urn:x:2", "ü", ""],
                "received_at": datetime(
                    2026, 3, 29, 2, 30, 0, 1, tzinfo=timezone(timedelta(hours=2))
                ),
                "late": True,
            }
        ),
        base.model_copy(
            update={
                "statement_id": stable_id(PROCEDURE, "statement", "s-3"),
                "sequence": 3,
                "phase_id": "öffentliche-auslegung",
                "statement_type": "toeb",
                "text": "",
                "attachments": ["x" * 5000],
                "received_at": datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            }
        ),
        base.model_copy(
            update={
                "statement_id": stable_id(PROCEDURE, "statement", "s-4"),
                "sequence": 4,
                "text": "lang " * 30_000,  # 150 KB: TOASTed by the server
                "received_at": datetime(
                    2038, 1, 19, 3, 14, 8, tzinfo=timezone(-timedelta(hours=5))
                ),
            }
        ),
    ]


async def test_the_encoder_writes_the_types_of_the_statements_table(
    db_pool: asyncpg.Pool,
) -> None:
    rows = await db_pool.fetch(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a "
        "WHERE a.attrelid = 'statements'::regclass AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY a.attnum"
    )
    table = {row["attname"]: row["type"] for row in rows}
    assert tuple(name for name, _ in COLUMN_TYPES) == intake.STATEMENT_COLUMNS
    assert {name: table[name] for name, _ in COLUMN_TYPES} == dict(COLUMN_TYPES)
    assert set(table) == set(intake.STATEMENT_COLUMNS)  # no column COPY would leave out


async def test_every_field_comes_back_as_it_went_in(db_pool: asyncpg.Pool) -> None:
    records = tricky_statements()
    async with db_pool.acquire() as conn:
        outcome = await intake.store_statements(conn, PROCEDURE, records)
    assert outcome.stored == [r.statement_id for r in records]
    rows = {
        row["statement_id"]: row for row in await db_pool.fetch(f"SELECT {STORED} FROM statements")
    }
    for record in records:
        stored = StatementRecord.model_validate(dict(rows[record.statement_id]))
        assert stored == record
        assert stored.received_at == record.received_at  # same instant, whatever the offset
    report = await verify_procedure(db_pool, PROCEDURE)
    assert report.ok, report.record_problems
    assert report.records_checked == len(records)


async def test_a_batch_of_many_chunks_is_anchored_row_by_row(db_pool: asyncpg.Pool) -> None:
    batch = [statement(n) for n in range(1, 251)]  # three COPY chunks
    batch.insert(120, statement(7))  # a repeat inside the batch: stored once, reported
    async with db_pool.acquire() as conn:
        first = await intake.store_statements(conn, PROCEDURE, batch)
        retry = await intake.store_statements(conn, PROCEDURE, batch)
    assert len(first.stored) == 250
    assert first.duplicate_ids == [statement(7).statement_id]
    assert retry.stored == []
    assert len(retry.same_content_ids) == 250
    assert await db_pool.fetchval("SELECT count(*) FROM statements") == 250
    assert await db_pool.fetchval("SELECT count(*) FROM events") == 1
    assert (await verify_procedure(db_pool, PROCEDURE)).ok

    victim = statement(180)
    await db_pool.execute(
        "UPDATE statements SET late = NOT late WHERE statement_id = $1", victim.statement_id
    )
    problems = (await verify_procedure(db_pool, PROCEDURE)).record_problems
    assert problems == [
        f"statements {victim.statement_id}: stored fields differ from the digest recorded in "
        "event seq 1 (the row was altered)"
    ]


async def test_a_row_the_server_refuses_fails_the_batch_and_stores_nothing(
    db_pool: asyncpg.Pool,
) -> None:
    batch = [statement(n) for n in range(1, 201)]
    batch[150] = statement(151, text="NUL \x00 is not text in PostgreSQL")
    async with db_pool.acquire() as conn:
        with pytest.raises(asyncpg.DataError):
            await intake.store_statements(conn, PROCEDURE, batch)
        # The connection is usable afterwards and the chain head did not move.
        assert await conn.fetchval("SELECT count(*) FROM statements") == 0
        assert await conn.fetchval("SELECT count(*) FROM events") == 0
        ok = await intake.store_statements(conn, PROCEDURE, batch[:150])
    assert len(ok.stored) == 150
    assert (await verify_chain(db_pool, PROCEDURE)).events_checked == 1


@pytest.mark.parametrize("field", ["sequence", "round"])
async def test_an_integer_beyond_postgres_integer_is_named(
    db_pool: asyncpg.Pool, field: str
) -> None:
    too_big = statement(2).model_copy(update={field: 2**31})
    async with db_pool.acquire() as conn:
        with pytest.raises(
            ValueError, match=rf"statements\[1\]\.{field}: expected an integer up to"
        ):
            await intake.store_statements(conn, PROCEDURE, [statement(1), too_big])
    assert await db_pool.fetchval("SELECT count(*) FROM statements") == 0
    # The encoder names the row too, should a caller skip intake's check.
    row = tuple(getattr(too_big, c) for c in intake.STATEMENT_COLUMNS)
    with pytest.raises(ValueError, match=rf"statements\[0\]\.{field}"):
        encode_statement_rows([row])


async def test_events_of_the_first_digest_form_still_verify(db_pool: asyncpg.Pool) -> None:
    """`statements.stored` events written before `digest_form` carry netstring digests."""
    records = [statement(1), statement(3)]
    async with db_pool.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "statements",
            records=[tuple(getattr(r, c) for c in intake.STATEMENT_COLUMNS) for r in records],
            columns=intake.STATEMENT_COLUMNS,
        )
        pairs = [
            [
                r.statement_id,
                statement_digest(*(getattr(r, f) for f in RECORD_FIELDS["statements"])),
            ]
            for r in records
        ]
        event = NewEvent(
            "legacy", "statements.stored", records[-1].received_at, {"statements": pairs}
        )
        await append_events(conn, PROCEDURE, [event])
    assert (await verify_procedure(db_pool, PROCEDURE)).ok
    await db_pool.execute(
        "UPDATE statements SET receipt_digest = $1 WHERE statement_id = $2",
        digest("other"),
        records[1].statement_id,
    )
    problems = (await verify_procedure(db_pool, PROCEDURE)).record_problems
    assert len(problems) == 1
    assert records[1].statement_id in problems[0]


_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


_IDS = [stable_id(PROCEDURE, "statement", f"h-{n}") for n in range(4)]


@st.composite
def statements(draw: st.DrawFn) -> list[StatementRecord]:
    """Batches of records with arbitrary (PostgreSQL-storable) values in every field."""
    count = draw(st.integers(min_value=1, max_value=5))
    out = []
    for _ in range(count):
        out.append(
            StatementRecord(
                procedure_id=PROCEDURE,
                statement_id=draw(st.sampled_from(_IDS)),  # repeats: the first one wins
                sequence=draw(st.integers(min_value=1, max_value=2**31 - 1)),
                round=draw(st.integers(min_value=1, max_value=2**31 - 1)),
                phase_id=draw(_TEXT),
                author_ref=draw(st.none() | _TEXT.filter(lambda t: 0 < len(t) <= 200)),
                statement_type=draw(_TEXT),
                text=draw(_TEXT),
                attachments=draw(st.lists(_TEXT, max_size=3)),
                received_at=draw(
                    st.datetimes(
                        min_value=datetime(1900, 1, 1),
                        max_value=datetime(2200, 1, 1),
                        timezones=st.sampled_from(
                            [UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=9))]
                        ),
                    )
                ),
                late=draw(st.booleans()),
                receipt_digest=draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
            )
        )
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=statements())
async def test_any_storable_batch_round_trips_and_verifies(
    db_pool: asyncpg.Pool, batch: list[StatementRecord]
) -> None:
    async with db_pool.acquire() as conn:
        await conn.execute("TRUNCATE statements, events, audit_heads")
        outcome = await intake.store_statements(conn, PROCEDURE, batch)
        stored = await conn.fetch(f"SELECT {STORED} FROM statements")
    by_id = {row["statement_id"]: StatementRecord.model_validate(dict(row)) for row in stored}
    first: dict[str, StatementRecord] = {}
    for record in batch:
        first.setdefault(record.statement_id, record)
    assert outcome.stored == list(first)
    assert by_id == first
    assert (await verify_procedure(db_pool, PROCEDURE)).ok


async def test_a_batch_of_several_copy_statements_is_one_transaction_and_one_event(
    db_pool: asyncpg.Pool,
) -> None:
    """Batches over `_COPY_ROWS` go to the server as several COPYs: all or nothing."""
    batch = [statement(n) for n in range(1, 1236)]  # several COPYs of up to `_COPY_ROWS`
    assert len(batch) > 2 * intake._COPY_ROWS
    bad = batch.copy()
    bad[1100] = statement(1101, text="NUL \x00 is not text in PostgreSQL")  # in the last COPY
    async with db_pool.acquire() as conn:
        with pytest.raises(asyncpg.DataError):
            await intake.store_statements(conn, PROCEDURE, bad)
        assert await conn.fetchval("SELECT count(*) FROM statements") == 0
        assert await conn.fetchval("SELECT count(*) FROM events") == 0
        first = await intake.store_statements(conn, PROCEDURE, batch)
        retry = await intake.store_statements(conn, PROCEDURE, batch)
    assert first.stored == [s.statement_id for s in batch]
    assert (retry.stored, len(retry.same_content_ids)) == ([], len(batch))
    assert await db_pool.fetchval("SELECT count(*) FROM statements") == len(batch)
    assert await db_pool.fetchval("SELECT count(*) FROM events") == 1
    report = await verify_procedure(db_pool, PROCEDURE)
    assert report.ok, report.record_problems
    assert report.records_checked == len(batch)


@pytest.mark.parametrize("rows", [1, 124, 125, 126, 500, 1000, 1235, 5000])
def test_copy_parts_cover_a_batch_once_in_order_with_a_short_first_part(rows: int) -> None:
    parts = intake._parts(rows)
    assert parts[0] == (0, min(rows, intake._FIRST_ROWS))
    assert [stop for _, stop in parts[:-1]] == [first for first, _ in parts[1:]]
    assert parts[-1][1] == rows
    assert all(0 < stop - first <= intake._COPY_ROWS for first, stop in parts)


async def _store_on_own_connection(
    database_url: str, schema: str, batch: list[StatementRecord]
) -> intake.IntakeOutcome:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        return await intake.store_statements(conn, PROCEDURE, batch)
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("first", "second"),
    [((1, 700), (701, 1400)), ((1, 700), (351, 1050))],
    ids=["disjoint", "overlapping"],
)
async def test_concurrent_batches_of_one_procedure_store_each_statement_once(
    database_url: str,
    db_schema: str,
    db_pool: asyncpg.Pool,
    first: tuple[int, int],
    second: tuple[int, int],
) -> None:
    """Two workers' batches of one procedure COPY side by side (the head is locked only for
    the event); where they share ids, one stores them and the other reports them as
    duplicates, after the key refused them or PostgreSQL broke a deadlock between the two."""
    batches = [[statement(n) for n in range(lo, hi + 1)] for lo, hi in (first, second)]
    outcomes = await asyncio.gather(
        *(_store_on_own_connection(database_url, db_schema, b) for b in batches)
    )
    wanted = {s.statement_id for b in batches for s in b}
    stored = [i for o in outcomes for i in o.stored]
    assert sorted(stored) == sorted(wanted)  # every statement stored by exactly one batch
    for outcome, batch in zip(outcomes, batches, strict=True):
        assert set(outcome.stored) | set(outcome.duplicate_ids) == {s.statement_id for s in batch}
        assert set(outcome.duplicate_ids) <= set(stored) - set(outcome.stored)
    assert await db_pool.fetchval("SELECT count(*) FROM statements") == len(wanted)
    report = await verify_procedure(db_pool, PROCEDURE)
    assert report.ok, (report.chain.broken, report.record_problems)
    assert report.records_checked == len(wanted)
