"""The worker's summaries of the statements' BRIN index (migration 0007): a pass summarises the
ranges written since the last one, skips while another holds the table, and the loop stops
when asked."""

from __future__ import annotations

import asyncio

import asyncpg

from activities.storage import intake
from activities.storage.summarize import run_summarizer, summarize_statement_ranges
from tests.storage.conftest import PROCEDURE, scan_for_procedure, statement


async def _unsummarised_pages(conn: asyncpg.Connection) -> int:
    """Heap pages a query for a missing procedure still reads: those of unsummarised ranges."""
    return (await scan_for_procedure(conn, "no-such-procedure")).heap_blocks


async def test_a_pass_summarises_new_ranges_once(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        await intake.store_statements(conn, PROCEDURE, [statement(n) for n in range(1, 601)])
        before = await _unsummarised_pages(conn)
    assert before > 16  # more than one range of statements, none summarised yet
    first = await summarize_statement_ranges(db_pool)
    assert first is not None
    assert first >= 1
    assert await summarize_statement_ranges(db_pool) == 0  # nothing new since
    async with db_pool.acquire() as conn:
        after = await _unsummarised_pages(conn)
    assert after < 16  # at most the last, partly filled range is read


async def test_a_pass_skips_while_the_table_is_being_summarised_elsewhere(
    db_pool: asyncpg.Pool,
) -> None:
    async with db_pool.acquire() as holder, holder.transaction():
        # What VACUUM and another worker's pass hold while they summarise.
        await holder.execute("LOCK TABLE statements IN SHARE UPDATE EXCLUSIVE MODE")
        assert await summarize_statement_ranges(db_pool, lock_timeout_ms=50) is None


async def test_the_loop_summarises_until_stopped(db_pool: asyncpg.Pool) -> None:
    async with db_pool.acquire() as conn:
        await intake.store_statements(conn, PROCEDURE, [statement(n) for n in range(1, 601)])
    stop = asyncio.Event()
    loop = asyncio.create_task(run_summarizer(db_pool, stop=stop, interval=3600))
    async with asyncio.timeout(30):
        while True:  # the first pass runs at once; wait for it to commit
            async with db_pool.acquire() as conn:
                if await _unsummarised_pages(conn) < 16:
                    break
            await asyncio.sleep(0.05)
    stop.set()
    async with asyncio.timeout(30):
        assert await loop >= 1
