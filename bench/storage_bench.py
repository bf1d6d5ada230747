"""Benchmark of batched statement intake (issue 6): not a test, run by hand.

Measures, in one run against the same PostgreSQL, the rows per second of
  1. a raw asyncpg COPY of the rows into an unindexed table with one ~300-byte jsonb column
     (the reference the issue names: "COPY ~159k rows/s for 300-byte jsonb rows"),
  2. a raw asyncpg COPY of the same statements into an unindexed table shaped like
     `statements` (same columns, no key),
  3. the `store_statements` activity: idempotency check, COPY into `statements` with its
     primary key, the audit event with one digest per statement, hash chain, one transaction,
and prints the ratio of 3 to 1 (target: at least 0.5). Each method writes the same statements
in the same batches (one round of COPY per batch), each into a fresh schema.

    .venv/bin/python bench/storage_bench.py [--rows 50000] [--batch 1000] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from activities import contracts
from activities.records import StatementRecord, stable_id
from activities.storage.activities import StorageActivities
from activities.storage.intake import STATEMENT_COLUMNS
from activities.storage.migrate import apply_migrations
from activities.storage.pool import create_pool

PROCEDURE = "bench-procedure"
REFERENCE = "raw COPY, 300-byte jsonb rows (reference)"
OURS = "store_statements (key, idempotency, audit chain)"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_statements(rows: int) -> list[StatementRecord]:
    out = []
    for n in range(1, rows + 1):
        text = (f"Stellungnahme {n}: Der Laermschutz an der Bahnstadt reicht nicht aus. " * 5)[:250]
        out.append(
            StatementRecord(
                procedure_id=PROCEDURE,
                statement_id=stable_id(PROCEDURE, "statement", str(n)),
                sequence=n,
                round=1,
                phase_id="auslegung",
                statement_type="citizen",
                text=text,
                received_at=T0 + timedelta(seconds=n),
                receipt_digest=hashlib.sha256(text.encode()).hexdigest(),
            )
        )
    return out


async def timed(label: str, rows: int, run: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await run()
    elapsed = time.perf_counter() - start
    rate = rows / elapsed
    print(f"{label:<58} {elapsed:7.3f} s  {rate:10,.0f} rows/s")
    return rate


async def fresh_pool(url: str) -> tuple[asyncpg.Pool, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    pool = await create_pool(url, schema=schema, max_size=2)
    async with pool.acquire() as conn:
        await apply_migrations(conn)
    return pool, schema


async def drop(url: str, pool: asyncpg.Pool, schema: str) -> None:
    await pool.close()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()


async def main(url: str, rows: int, batch: int, repeat: int) -> None:
    statements = make_statements(rows)
    batches = [statements[i : i + batch] for i in range(0, rows, batch)]
    jsonb_rows = [
        [
            (s.procedure_id, s.statement_id, json.dumps({"id": s.statement_id, "text": s.text}))
            for s in b
        ]
        for b in batches
    ]
    plain_rows = [
        [
            (
                s.procedure_id, s.statement_id, s.sequence, s.round, s.phase_id, s.author_ref,
                s.statement_type, s.text, s.attachments, s.received_at, s.late, s.receipt_digest,
            )
            for s in b
        ]
        for b in batches
    ]  # fmt: skip
    size = sum(len(r[2].encode()) for r in jsonb_rows[0]) / len(jsonb_rows[0])
    print(f"{rows} statements in batches of {batch}; jsonb document ~{size:.0f} bytes\n")
    rates: dict[str, list[float]] = {}
    ratios: list[float] = []
    for round_no in range(repeat):
        pool, schema = await fresh_pool(url)
        try:
            await pool.execute(
                "CREATE TABLE bench_jsonb (procedure_id text, statement_id text, doc jsonb)"
            )
            await pool.execute("CREATE TABLE bench_plain (LIKE statements)")

            async def copy_jsonb(pool: asyncpg.Pool = pool) -> None:
                async with pool.acquire() as conn:
                    for chunk in jsonb_rows:
                        await conn.copy_records_to_table("bench_jsonb", records=chunk)

            async def copy_plain(pool: asyncpg.Pool = pool) -> None:
                async with pool.acquire() as conn:
                    for chunk in plain_rows:
                        await conn.copy_records_to_table(
                            "bench_plain", records=chunk, columns=STATEMENT_COLUMNS
                        )

            storage = StorageActivities(pool)

            async def activity(storage: StorageActivities = storage) -> None:
                for chunk in batches:
                    await storage.store_statements(
                        contracts.StoreStatementsInput(procedure_id=PROCEDURE, statements=chunk)
                    )

            runs = {
                REFERENCE: copy_jsonb,
                "raw COPY, statements-shaped rows, no key": copy_plain,
                OURS: activity,
            }
            order = list(runs.items())
            order = order[round_no % 3 :] + order[: round_no % 3]  # rotate: no method always first
            this: dict[str, float] = {}
            for label, run in order:
                this[label] = await timed(label, rows, run)
                rates.setdefault(label, []).append(this[label])
            ratios.append(this[OURS] / this[REFERENCE])
            retry_start = time.perf_counter()
            await activity()  # every batch again: all duplicates, nothing written
            retry = time.perf_counter() - retry_start
            stored = await pool.fetchval("SELECT count(*) FROM statements")
            events = await pool.fetchval("SELECT count(*) FROM events")
            print(f"{'retry of every batch (all duplicates)':<58} {retry:7.3f} s")
            print(f"rows in statements: {stored}, audit events: {events}\n")
            assert stored == rows, "a retry doubled rows"
        finally:
            await drop(url, pool, schema)
    reference, ours = max(rates[REFERENCE]), max(rates[OURS])
    print(
        f"best of {repeat}: raw COPY {reference:,.0f} rows/s, store_statements {ours:,.0f} rows/s"
    )
    print(f"ratio of the bests: {ours / reference:.2f} (target >= 0.5)")
    print(
        f"ratio within each round (same load): {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "CIVICFLOW_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    asyncio.run(main(args.url, args.rows, args.batch, args.repeat))
