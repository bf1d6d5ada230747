"""Summaries of the BRIN index that finds a procedure's statements (migration 0007).

A BRIN range is summarised once it is full, by autovacuum (`autosummarize`) or any VACUUM; a
query reads every range that is not summarised yet, so nothing is missed, but a server with
autovacuum off (or behind) would read the whole table for each procedure's statements. The
worker therefore summarises the new ranges itself every few seconds: a pass reads only the
ranges written since the last one. It waits for no one: while a VACUUM of `statements` (or
another worker's pass) holds the table's summarising lock, the pass is skipped.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from activities.storage.periodic import repeat_until_stopped

__all__ = ["STATEMENT_INDEX", "run_summarizer", "summarize_statement_ranges"]

log = logging.getLogger(__name__)

STATEMENT_INDEX = "statements_procedure_brin"


async def summarize_statement_ranges(
    pool: asyncpg.Pool, *, lock_timeout_ms: int = 2000
) -> int | None:
    """Summarise the full ranges not yet summarised; return how many, or None when the lock
    was not granted within `lock_timeout_ms` (a VACUUM or another pass is at it)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        try:
            count = await conn.fetchval(
                "SELECT brin_summarize_new_values($1::regclass)", STATEMENT_INDEX
            )
        except asyncpg.LockNotAvailableError:
            return None
    return int(count)


async def run_summarizer(pool: asyncpg.Pool, *, stop: asyncio.Event, interval: float) -> int:
    """Summarise every `interval` seconds until `stop` is set; return the ranges summarised."""
    summarised = 0

    async def one_pass() -> bool:
        nonlocal summarised
        summarised += await summarize_statement_ranges(pool) or 0
        return False

    await repeat_until_stopped(
        one_pass, stop=stop, interval=interval, what="statement index summary", log=log
    )
    return summarised
