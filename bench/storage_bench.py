"""Benchmark of batched statement intake (issue 6): not a test, run by hand.

Measures, in one run against the same PostgreSQL, the rows per second of
  1. a raw asyncpg COPY of the rows into an unindexed table with one ~300-byte jsonb column
     (the reference the issue names: "COPY ~159k rows/s for 300-byte jsonb rows"),
  2. a raw asyncpg COPY of the same statements into an unindexed table shaped like
     `statements` (same columns, no key),
  2b. a raw asyncpg COPY of the same statements into a copy of `statements` with its primary
     key (the same rows into the same table, minus idempotency and audit),
  3. the `store_statements` activity: idempotency check, COPY into `statements` with its
     primary key, the audit event with one digest per statement, hash chain, one transaction,
and prints the ratio of 3 to 1 (target: at least 0.5). Each method writes the same statements
in the same batches (one COPY per batch); the methods take turns batch by batch, so load from
other processes on the machine affects all three alike. Each round uses a fresh schema.

Wall-clock ratios swing widely on a loaded machine, so it also prints the CPU time each method
costs per row: this process plus the PostgreSQL backends of both connections (read from
/proc, so only when the server runs on this machine). On a saturated machine wall time follows
total CPU; on an idle one the client's and the server's CPU overlap.

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
from pathlib import Path
from typing import Any

import asyncpg

from activities import contracts
from activities.records import StatementRecord, stable_id
from activities.storage.activities import StorageActivities
from activities.storage.intake import STATEMENT_COLUMNS
from activities.storage.migrate import apply_migrations
from activities.storage.pool import create_pool

PROCEDURE = "bench-procedure"
REFERENCE = "raw COPY, 300-byte jsonb rows (reference)"
PLAIN = "raw COPY, statements-shaped rows, no key"
KEYED = "raw COPY into a copy of `statements` (its key)"
OURS = "store_statements (key, idempotency, audit chain)"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pids: list[int]) -> float | None:
    """CPU seconds the given PostgreSQL backends used so far; None if /proc cannot tell."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        total += (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime
    return total


def make_statements(rows: int, procedure_id: str = PROCEDURE) -> list[StatementRecord]:
    """`rows` statements of 250 characters for one procedure: the input of both storage
    benchmarks (this script and scenario 5 of the harness)."""
    out = []
    for n in range(1, rows + 1):
        text = (f"Stellungnahme {n}: Der Lärmschutz an der Bahnstadt reicht nicht aus. " * 5)[:250]
        out.append(
            StatementRecord(
                procedure_id=procedure_id,
                statement_id=stable_id(procedure_id, "statement", str(n)),
                sequence=n,
                round=1,
                phase_id="hearing",
                statement_type="objection",
                text=text,
                received_at=T0 + timedelta(seconds=n),
                receipt_digest=hashlib.sha256(text.encode()).hexdigest(),
            )
        )
    return out


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


def comparison_rows(
    batches: list[list[StatementRecord]],
) -> tuple[list[list[tuple[Any, ...]]], list[list[tuple[Any, ...]]]]:
    """The same statements per batch as ~300-byte jsonb rows and as plain `statements` rows.

    The jsonb rows are the reference COPY the issue measured; the plain rows match
    `STATEMENT_COLUMNS` for a COPY into a table shaped like `statements`.
    """
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
    return jsonb_rows, plain_rows


async def main(url: str, rows: int, batch: int, repeat: int) -> None:
    statements = make_statements(rows)
    batches = [statements[i : i + batch] for i in range(0, rows, batch)]
    jsonb_rows, plain_rows = comparison_rows(batches)
    size = sum(len(r[2].encode()) for r in jsonb_rows[0]) / len(jsonb_rows[0])
    print(f"{rows} statements in batches of {batch}; jsonb document ~{size:.0f} bytes\n")
    rates: dict[str, list[float]] = {}
    cpu_per_row: dict[str, list[float]] = {}
    ratios: list[float] = []
    for round_no in range(repeat):
        pool, schema = await fresh_pool(url)
        try:
            await pool.execute(
                "CREATE TABLE bench_jsonb (procedure_id text, statement_id text, doc jsonb)"
            )
            await pool.execute("CREATE TABLE bench_plain (LIKE statements)")
            await pool.execute("CREATE TABLE bench_keyed (LIKE statements INCLUDING ALL)")
            storage = StorageActivities(pool)
            spent = dict.fromkeys((REFERENCE, PLAIN, KEYED, OURS), 0.0)
            cpu: dict[str, float | None] = dict.fromkeys(spent, 0.0)
            async with pool.acquire() as first, pool.acquire() as second:
                # The pool has two connections: `raw` below and the one the activity uses.
                pids = [await c.fetchval("SELECT pg_backend_pid()") for c in (first, second)]
            async with pool.acquire() as raw:
                # Batch by batch, the three methods take turns (in rotating order), so a
                # change in machine load hits all of them alike.
                for index in range(len(batches)):
                    runs: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                        (
                            REFERENCE,
                            lambda i=index: raw.copy_records_to_table(
                                "bench_jsonb", records=jsonb_rows[i]
                            ),
                        ),
                        (
                            PLAIN,
                            lambda i=index: raw.copy_records_to_table(
                                "bench_plain", records=plain_rows[i], columns=STATEMENT_COLUMNS
                            ),
                        ),
                        (
                            KEYED,
                            lambda i=index: raw.copy_records_to_table(
                                "bench_keyed", records=plain_rows[i], columns=STATEMENT_COLUMNS
                            ),
                        ),
                        (
                            OURS,
                            lambda i=index, s=storage: s.store_statements(
                                contracts.StoreStatementsInput(
                                    procedure_id=PROCEDURE, statements=batches[i]
                                )
                            ),
                        ),
                    ]
                    shift = (index + round_no) % len(runs)
                    for label, run in runs[shift:] + runs[:shift]:
                        server = backend_cpu(pids)
                        client = time.process_time()
                        start = time.perf_counter()
                        await run()
                        spent[label] += time.perf_counter() - start
                        used = backend_cpu(pids)
                        total = cpu[label]
                        if total is None or server is None or used is None:
                            cpu[label] = None
                        else:
                            cpu[label] = total + used - server + time.process_time() - client
            for label, seconds in spent.items():
                rates.setdefault(label, []).append(rows / seconds)
                used_cpu = cpu[label]
                per_row = "" if used_cpu is None else f"  {used_cpu / rows * 1e6:5.1f} us CPU/row"
                if used_cpu is not None:
                    cpu_per_row.setdefault(label, []).append(used_cpu / rows * 1e6)
                print(f"{label:<52} {seconds:7.3f} s  {rows / seconds:10,.0f} rows/s{per_row}")
            ratios.append(spent[REFERENCE] / spent[OURS])
            retry_start = time.perf_counter()
            for chunk in batches:  # every batch again: all duplicates, nothing written
                await storage.store_statements(
                    contracts.StoreStatementsInput(procedure_id=PROCEDURE, statements=chunk)
                )
            retry = time.perf_counter() - retry_start
            stored = await pool.fetchval("SELECT count(*) FROM statements")
            events = await pool.fetchval("SELECT count(*) FROM events")
            print(f"{'retry of every batch (all duplicates)':<52} {retry:7.3f} s")
            print(f"rows in statements: {stored}, audit events: {events}")
            print(f"ratio store_statements / raw COPY (jsonb): {ratios[-1]:.2f}\n")
            assert stored == rows, "a retry doubled rows"
        finally:
            await drop(url, pool, schema)
    reference, plain, keyed, ours = (
        statistics.median(rates[k]) for k in (REFERENCE, PLAIN, KEYED, OURS)
    )
    print(f"median of {repeat} rounds, rows/s: raw COPY jsonb {reference:,.0f}, ", end="")
    print(f"statements-shaped {plain:,.0f}, same with the primary key {keyed:,.0f}, ", end="")
    print(f"store_statements {ours:,.0f}")
    print(
        f"ratio store_statements / raw COPY (jsonb reference): per round "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f} "
        "(target >= 0.5)"
    )
    print(f"ratio store_statements / raw COPY (statements-shaped, no key): {ours / plain:.2f}")
    print(f"ratio store_statements / raw COPY (into a copy of `statements`): {ours / keyed:.2f}")
    if len(cpu_per_row) == len(rates):
        medians = {label: statistics.median(values) for label, values in cpu_per_row.items()}
        print(
            "median CPU per row (this process + both backends): "
            + ", ".join(f"{label.split(' (')[0]} {us:.1f} us" for label, us in medians.items())
        )
        ratio = medians[REFERENCE] / medians[OURS]
        print(f"CPU ratio raw COPY (jsonb) / store_statements: {ratio:.2f}")


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
