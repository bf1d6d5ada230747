"""Benchmark of batched statement intake (issue 6): not a test, run by hand.

Measures, against the same PostgreSQL, the rows per second of
  1. a raw asyncpg COPY of the rows into an unindexed table with one ~300-byte jsonb column
     (the reference the issue names: "COPY ~159k rows/s for 300-byte jsonb rows"),
  2. a raw asyncpg COPY of the same statements into an unindexed table shaped like
     `statements` (same columns, no key),
  2b. a raw asyncpg COPY of the same statements into a copy of `statements` with its keys
     (the same rows into the same table, minus idempotency and audit),
  3. the `store_statements` activity: idempotency via the primary key, COPY into
     `statements`, the audit event anchoring every row, hash chain, one transaction,
and prints the ratio of 3 to 1 (target: at least 0.5). Each method writes the same statements
in the same batches (one COPY per batch); methods measured together take turns batch by
batch, so load from other processes on the machine affects them alike. Each round uses a
fresh schema, so every table starts empty (`measure_round`, which scenario 5 of
`civicflow bench` runs too).

The target pair (1 and 3) takes turns in a round of its own (`TARGET`); 2 and 2b take turns
with the reference in a second round (`CONTEXT`). Interleaved all together, the third and
fourth tables only enlarge the working set the two measured methods share: at 100,000 rows
the tables outgrow the server's default 128 MB of shared buffers, and store_statements,
whose key touches pages all over its index, lost more from the evictions than the
append-only reference (0.49 with the keyed copy interleaved against 0.56-0.60 without it).

Wall-clock ratios swing widely on a loaded machine, so it also prints the CPU time each method
costs per row: this process plus the PostgreSQL backends of both connections (read from
/proc, so only when the server runs on this machine). On a saturated machine wall time follows
total CPU; on an idle one the client's and the server's CPU overlap.

    .venv/bin/python bench/storage_bench.py [--rows 30000] [--batch 1000] [--repeat 5]
        [--no-warmup] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
TARGET = (REFERENCE, OURS)
"""The issue's comparison, measured in a round of its own."""
CONTEXT = (REFERENCE, PLAIN, KEYED)
"""Where store_statements' cost comes from, measured in a second round."""
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pids: list[int]) -> float | None:
    """CPU seconds the given PostgreSQL backends used so far; None if /proc cannot tell.

    From `schedstat` (nanoseconds) where the kernel has it: `stat` counts clock ticks (10 ms),
    coarser than a whole 1,000-row batch of one method.
    """
    total = 0.0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
            continue
        except (OSError, IndexError, ValueError):
            pass
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


@dataclass(frozen=True)
class RoundResult:
    """One round of the comparison: each method's wall and CPU seconds over the same rows."""

    rows: int
    seconds: dict[str, float]
    cpu_seconds: dict[str, float] | None
    """This process plus the PostgreSQL backends of both connections; None when /proc cannot
    tell (a server on another machine)."""
    retry_seconds: float | None
    """Of the retry of every batch by store_statements (None in a round without it)."""
    stored: int | None
    """Rows of the measured procedure in `statements` after the retry of every batch: `rows`
    unless a retry doubled some (None in a round without store_statements)."""
    events: int | None

    def ratio(self, label: str, reference: str = REFERENCE) -> float:
        """Rate of `label` over the rate of `reference` (higher is better for `label`)."""
        return self.seconds[reference] / self.seconds[label]

    def ratio_across(self, context: RoundResult, label: str) -> float:
        """Rate of store_statements in this round over the rate of `label` in `context`,
        each against its own round's reference (`TARGET` and `CONTEXT` take turns apart)."""
        return self.ratio(OURS) / context.ratio(label)

    def cpu_per_row(self, label: str) -> float | None:
        """Microseconds of CPU per row, or None."""
        return None if self.cpu_seconds is None else self.cpu_seconds[label] / self.rows * 1e6


async def measure_round(
    url: str,
    statements: list[StatementRecord],
    batch: int,
    *,
    labels: tuple[str, ...] = (REFERENCE, PLAIN, KEYED, OURS),
    rotation: int = 0,
    warmup: bool = True,
) -> RoundResult:
    """Write `statements` in batches with each method in `labels`, in a fresh schema.

    Every round starts from empty tables (`statements`, its events and the reference tables
    alike), so no method inserts into a larger index than another. With `warmup`, each
    method first writes one untimed batch of another procedure: the round's connections are
    new, and a new PostgreSQL backend spends the first batch loading the catalogue entries of
    the tables, indexes and triggers it touches (store_statements' first batch took 16 ms
    against 7.5 for the others; a worker's pooled connections pay that once, not every 30
    batches). Batch by batch, the methods take turns in an order that rotates with the batch
    (and `rotation`), so a change in machine load hits all of them alike. Then every batch
    goes to `store_statements` again (all duplicates: nothing may be written).
    """
    batches = [statements[i : i + batch] for i in range(0, len(statements), batch)]
    untimed = 0
    if warmup:
        procedure_id = statements[0].procedure_id
        batches.insert(0, make_statements(min(batch, len(statements)), f"{procedure_id}-warmup"))
        untimed = 1
    jsonb_rows, plain_rows = comparison_rows(batches)
    # The inputs live for the whole round; a worker holds one batch at a time. Frozen, they
    # are no longer walked by every full collection, whichever method's batch it lands in.
    gc.collect()
    gc.freeze()
    pool, schema = await fresh_pool(url)
    try:
        await pool.execute(
            "CREATE TABLE bench_jsonb (procedure_id text, statement_id text, doc jsonb)"
        )
        await pool.execute("CREATE TABLE bench_plain (LIKE statements)")
        await pool.execute("CREATE TABLE bench_keyed (LIKE statements INCLUDING ALL)")
        storage = StorageActivities(pool)
        async with pool.acquire() as first, pool.acquire() as second:
            # The pool has two connections: `raw` below and the one the activity uses.
            pids = [await c.fetchval("SELECT pg_backend_pid()") for c in (first, second)]
        async with pool.acquire() as raw:

            async def reference(i: int) -> None:
                await raw.copy_records_to_table("bench_jsonb", records=jsonb_rows[i])

            async def plain(i: int) -> None:
                await raw.copy_records_to_table(
                    "bench_plain", records=plain_rows[i], columns=STATEMENT_COLUMNS
                )

            async def keyed(i: int) -> None:
                await raw.copy_records_to_table(
                    "bench_keyed", records=plain_rows[i], columns=STATEMENT_COLUMNS
                )

            async def ours(i: int) -> None:
                await storage.store_statements(
                    contracts.StoreStatementsInput(
                        procedure_id=batches[i][0].procedure_id, statements=batches[i]
                    )
                )

            methods: dict[str, Callable[[int], Awaitable[None]]] = {
                REFERENCE: reference,
                PLAIN: plain,
                KEYED: keyed,
                OURS: ours,
            }
            runs = [(label, methods[label]) for label in labels]
            spent = dict.fromkeys(labels, 0.0)
            cpu: dict[str, float] | None = dict.fromkeys(labels, 0.0)
            for _, run in runs if untimed else []:
                await run(0)
            for index in range(untimed, len(batches)):
                shift = (index + rotation) % len(runs)
                for label, run in runs[shift:] + runs[:shift]:
                    server = backend_cpu(pids)
                    client = time.process_time()
                    start = time.perf_counter()
                    await run(index)
                    spent[label] += time.perf_counter() - start
                    used = backend_cpu(pids)
                    if cpu is None or server is None or used is None:
                        cpu = None
                    else:
                        cpu[label] += used - server + time.process_time() - client
        retry: float | None = None
        stored: int | None = None
        events: int | None = None
        if OURS in labels:
            retry_start = time.perf_counter()
            for index in range(len(batches)):  # every batch again: all duplicates
                await ours(index)
            retry = time.perf_counter() - retry_start
            stored = await pool.fetchval(
                "SELECT count(*) FROM statements WHERE procedure_id = $1",
                statements[0].procedure_id,
            )
            events = await pool.fetchval("SELECT count(*) FROM events")
    finally:
        await drop(url, pool, schema)
    return RoundResult(len(statements), spent, cpu, retry, stored, events)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: the machine is shared, so every figure needs it."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


async def main(url: str, rows: int, batch: int, repeat: int, *, warmup: bool = True) -> None:
    statements = make_statements(rows)
    sample = comparison_rows([statements[:batch]])[0][0]
    size = sum(len(r[2].encode()) for r in sample) / len(sample)
    print(f"{rows} statements in batches of {batch}; jsonb document ~{size:.0f} bytes")
    print("each method writes one untimed batch first" if warmup else "no warm-up batch")
    print(f"load average at start: {load_average()}\n")
    rounds: list[RoundResult] = []
    contexts: list[RoundResult] = []
    for round_no in range(repeat):
        result = await measure_round(
            url, statements, batch, labels=TARGET, rotation=round_no, warmup=warmup
        )
        context = await measure_round(
            url, statements, batch, labels=CONTEXT, rotation=round_no, warmup=warmup
        )
        rounds.append(result)
        contexts.append(context)
        for done in (result, context):
            for label, seconds in done.seconds.items():
                used = done.cpu_per_row(label)
                per_row = "" if used is None else f"  {used:5.1f} us CPU/row"
                print(f"{label:<52} {seconds:7.3f} s  {rows / seconds:10,.0f} rows/s{per_row}")
        print(f"{'retry of every batch (all duplicates)':<52} {result.retry_seconds:7.3f} s")
        print(f"rows in statements: {result.stored}, audit events: {result.events}")
        print(f"ratio store_statements / raw COPY (jsonb): {result.ratio(OURS):.2f}")
        print(f"load average: {load_average()}\n")
        assert result.stored == rows, "a retry doubled rows"
    # Each label's figures from the rounds that measured it (the reference's from the target's).
    measured_in = {REFERENCE: rounds, OURS: rounds, PLAIN: contexts, KEYED: contexts}
    rates = {
        label: statistics.median(rows / r.seconds[label] for r in done)
        for label, done in measured_in.items()
    }
    ratios = [r.ratio(OURS) for r in rounds]
    print(
        f"median of {repeat} rounds, rows/s: raw COPY jsonb {rates[REFERENCE]:,.0f}, "
        f"statements-shaped {rates[PLAIN]:,.0f}, same with the primary key {rates[KEYED]:,.0f}, "
        f"store_statements {rates[OURS]:,.0f}"
    )
    print(
        f"ratio store_statements / raw COPY (jsonb reference): per round "
        f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f} "
        "(target >= 0.5)"
    )
    # Across the two rounds of each repetition, each against its own round's reference.
    for label, name in ((PLAIN, "statements-shaped, no key"), (KEYED, "a copy of `statements`")):
        across = statistics.median(
            r.ratio_across(c, label) for r, c in zip(rounds, contexts, strict=True)
        )
        print(f"ratio store_statements / raw COPY ({name}): {across:.2f}")
    cpu = {label: [r.cpu_per_row(label) for r in done] for label, done in measured_in.items()}
    if all(v is not None for values in cpu.values() for v in values):
        medians = {
            label: statistics.median(v for v in values if v is not None)
            for label, values in cpu.items()
        }
        print(
            "median CPU per row (this process + both backends): "
            + ", ".join(f"{label.split(' (')[0]} {us:.1f} us" for label, us in medians.items())
        )
        cpu_ratio = medians[REFERENCE] / medians[OURS]
        print(f"CPU ratio raw COPY (jsonb) / store_statements: {cpu_ratio:.2f}")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="time every batch, the first one of each new connection too",
    )
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "CIVICFLOW_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    asyncio.run(main(args.url, args.rows, args.batch, args.repeat, warmup=not args.no_warmup))
