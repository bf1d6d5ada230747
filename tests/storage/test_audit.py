"""The hash chain: appends are contiguous and idempotent under concurrency; tampering is found."""

from __future__ import annotations

import asyncio
import math
from datetime import timedelta

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activities.storage import audit
from activities.storage.audit import NewEvent, append_events, verify_chain
from activities.storage.canonical import GENESIS_HASH, CanonicalError, canonical_json, chain_hash
from activities.storage.pool import create_pool
from tests.storage.conftest import PROCEDURE, T0


def new_event(n: int, **data: object) -> NewEvent:
    return NewEvent(f"ev-{n}", "phase.changed", T0 + timedelta(seconds=n), {"n": n, **data})


async def append(pool: asyncpg.Pool, *events: NewEvent, procedure_id: str = PROCEDURE) -> list:
    async with pool.acquire() as conn, conn.transaction():
        return await append_events(conn, procedure_id, list(events))


def test_canonical_json_is_stable_and_refuses_nan() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "ä"]}) == '{"a":[1.5,"ä"],"b":1}'
    with pytest.raises(CanonicalError, match="payload: expected finite JSON values"):
        canonical_json({"x": math.nan})


async def test_chain_links_each_event_to_the_previous(db_pool: asyncpg.Pool) -> None:
    links = await append(db_pool, new_event(1), new_event(2), new_event(3))
    rows = await db_pool.fetch("SELECT seq, payload, prev_hash, hash FROM events ORDER BY seq")
    assert [r["seq"] for r in rows] == [1, 2, 3]
    prev = GENESIS_HASH
    for row in rows:
        assert row["prev_hash"] == prev
        assert row["hash"] == chain_hash(prev, row["payload"])
        prev = row["hash"]
    assert [link.hash for link in links] == [r["hash"] for r in rows]
    report = await verify_chain(db_pool, PROCEDURE)
    assert report.ok
    assert report.events_checked == 3
    assert report.last_hash == prev


async def test_repeated_event_id_is_not_appended_again(db_pool: asyncpg.Pool) -> None:
    first = await append(db_pool, new_event(1), new_event(2))
    again = await append(db_pool, new_event(2), new_event(3))
    assert [link.created for link in first] == [True, True]
    assert [(link.seq, link.created) for link in again] == [(2, False), (3, True)]
    assert again[0].hash == first[1].hash
    assert await db_pool.fetchval("SELECT count(*) FROM events") == 3


async def test_lookup_of_stored_ids_probes_the_unique_key_with_stale_statistics(
    db_pool: asyncpg.Pool,
) -> None:
    """Statistics taken while the log was small made the planner scan every event of the
    procedure per append; the lookup must probe the (procedure_id, event_id) key instead."""
    await append(db_pool, new_event(1), new_event(2))
    await db_pool.execute("ANALYZE events")
    await append(db_pool, *(new_event(n) for n in range(3, 3003)))
    ids = [f"ev-{n}" for n in (5, 2999, 4000)]
    async with db_pool.acquire() as conn, conn.transaction():
        plan = await audit._probing_indexes(conn, "EXPLAIN " + audit._STORED_EVENTS, PROCEDURE, ids)
        found = await audit._stored_events(conn, PROCEDURE, ids)
        settings = await conn.fetchval("SHOW enable_seqscan")
    text = "\n".join(row[0] for row in plan)
    assert "events_procedure_id_event_id_key" in text, text
    assert "events_type_idx" not in text, text
    assert "Seq Scan on events" not in text, text
    assert sorted(r["seq"] for r in found) == [5, 2999]
    assert settings == "on"  # switched off for the lookup only


async def test_concurrent_appends_stay_one_contiguous_chain(
    database_url: str, db_schema: str
) -> None:
    # Several pools (as several workers would have) race on the same procedure; each task also
    # re-sends an event another task sends, so idempotency is raced too.
    pools = [await create_pool(database_url, schema=db_schema, max_size=4) for _ in range(3)]
    try:
        tasks = [append(pools[i % 3], new_event(i), new_event((i + 1) % 24)) for i in range(24)]
        await asyncio.gather(*tasks)
        seqs = [r[0] for r in await pools[0].fetch("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(1, 25))
        report = await verify_chain(pools[0], PROCEDURE)
        assert report.ok, report.broken
        assert report.events_checked == 24
    finally:
        for pool in pools:
            await pool.close()


async def test_procedures_have_separate_chains(db_pool: asyncpg.Pool) -> None:
    await append(db_pool, new_event(1), procedure_id="a")
    await append(db_pool, new_event(1), new_event(2), procedure_id="b")
    assert (await verify_chain(db_pool, "a")).events_checked == 1
    assert (await verify_chain(db_pool, "b")).events_checked == 2


async def test_events_table_refuses_updates(db_pool: asyncpg.Pool) -> None:
    await append(db_pool, new_event(1))
    with pytest.raises(asyncpg.RaiseError, match="events is append-only"):
        await db_pool.execute("UPDATE events SET event_type = 'x'")
    with pytest.raises(asyncpg.RaiseError, match="events is append-only"):
        await db_pool.execute("DELETE FROM events")


async def _tamper(pool: asyncpg.Pool, sql: str) -> None:
    """What an attacker with owner rights could do: switch the guard off and edit."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE events DISABLE TRIGGER events_append_only")
        await conn.execute(sql)
        await conn.execute("ALTER TABLE events ENABLE TRIGGER events_append_only")


@pytest.mark.parametrize(
    ("sql", "seq", "reason"),
    [
        (
            "UPDATE events SET payload = replace(payload, '\"n\":3', '\"n\":4') WHERE seq = 3",
            3,
            "hash does not match",
        ),
        ("UPDATE events SET payload = replace(payload, ',', ', ') WHERE seq = 2", 2, "canonical"),
        ("UPDATE events SET event_type = 'decision.made' WHERE seq = 4", 4, "column type"),
        (
            "UPDATE events SET occurred_at = occurred_at + interval '1 day' WHERE seq = 2",
            2,
            "occurred_at",
        ),
        ("DELETE FROM events WHERE seq = 3", 4, "expected seq 3"),
        ("UPDATE events SET hash = repeat('a', 64) WHERE seq = 2", 2, "hash does not match"),
        ("DELETE FROM events WHERE seq = 5", 5, "rows were deleted"),
    ],
)
async def test_tampering_is_found_at_the_first_broken_row(
    db_pool: asyncpg.Pool, sql: str, seq: int, reason: str
) -> None:
    await append(db_pool, *(new_event(n) for n in range(1, 6)))
    assert (await verify_chain(db_pool, PROCEDURE)).ok
    await _tamper(db_pool, sql)
    report = await verify_chain(db_pool, PROCEDURE)
    assert not report.ok
    assert report.broken is not None
    assert report.broken.seq == seq
    assert reason in report.broken.reason
    assert f"seq {seq}" in report.broken.describe()


async def test_a_cut_off_tail_is_found_through_the_head(db_pool: asyncpg.Pool) -> None:
    # The remaining rows still link up; only the head knows the log was longer.
    await append(db_pool, new_event(1), new_event(2))
    await _tamper(db_pool, "DELETE FROM events WHERE seq = 2")
    report = await verify_chain(db_pool, PROCEDURE)
    assert report.broken is not None
    assert "chain head records seq 2" in report.broken.reason


async def test_append_outside_a_transaction_is_refused(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside a transaction"):
            await append_events(conn, PROCEDURE, [new_event(1)])


async def test_naive_time_is_refused(db_pool: asyncpg.Pool) -> None:
    naive = NewEvent("ev", "phase.changed", T0.replace(tzinfo=None), {})
    with pytest.raises(ValueError, match="occurred_at: expected a timezone-aware"):
        await append(db_pool, naive)


@settings(max_examples=60, deadline=None)
@given(
    seq=st.integers(min_value=1, max_value=2**53),
    data=st.dictionaries(
        st.sampled_from(["seq", "type", "zz", "data", "statements"]),
        st.one_of(st.integers(), st.text(), st.lists(st.text(max_size=5), max_size=3)),
        max_size=4,
    ),
    event_type=st.text(min_size=1, max_size=20),
)
def test_payload_parts_around_the_seq_rebuild_the_canonical_payload(
    seq: int, data: dict[str, object], event_type: str
) -> None:
    """Whatever `data` holds (keys named seq or type, strings that look like JSON), the parts
    the server-side append joins around the seq give exactly the payload Python would hash."""
    event = NewEvent('ev-"seq":1,"type":', event_type, T0, data)
    before, after = audit.payload_parts("procédure-ä", event)
    assert before + str(seq) + after == audit.event_payload("procédure-ä", seq, event)


async def test_the_server_side_append_links_as_python_does(db_pool: asyncpg.Pool) -> None:
    """`audit_append_event` (migration 0008) numbers, hashes and moves the head exactly as
    `append_events` does, and both take turns on one chain; verify recomputes every link."""
    procedure_id = "bplan-mörfelden-3"
    await append(db_pool, new_event(1), procedure_id=procedure_id)
    server_side = new_event(2, text='Lärm, "Zitat" und \\ Backslash', seq=99)
    async with db_pool.acquire() as conn, conn.transaction():
        parts = audit.payload_parts(procedure_id, server_side)
        appended = await audit.append_event_on_server(conn, procedure_id, server_side, parts)
    await append(db_pool, new_event(3), procedure_id=procedure_id)
    rows = await db_pool.fetch(
        "SELECT seq, payload, prev_hash, hash FROM events WHERE procedure_id = $1 ORDER BY seq",
        procedure_id,
    )
    assert [r["seq"] for r in rows] == [1, 2, 3]
    assert (appended.seq, appended.hash) == (2, rows[1]["hash"])
    assert rows[1]["payload"] == audit.event_payload(procedure_id, 2, server_side)
    assert rows[1]["hash"] == chain_hash(rows[0]["hash"], rows[1]["payload"])
    report = await verify_chain(db_pool, procedure_id)
    assert report.ok, report.broken
    assert report.events_checked == 3
