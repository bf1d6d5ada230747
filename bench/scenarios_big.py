"""Scenarios 3, 4 and 5: a large hearing, many idle procedures, storage writes."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from bench import storage_bench
from bench.baseline import BareBatch, BareIntake, BareIntakeState, BareItem, BareSleeper
from bench.env import (
    REPO,
    BenchEnv,
    RssSampler,
    poll_until,
    procedure_input,
    rss,
    server_pid,
    workflow_id,
)
from bench.scenarios import _bounded, phase_entered, start_procedure, statement
from bench.storage_bench import make_statements
from workflows.client import StatementSubmitter
from workflows.procedure import ProcedureWorkflow

__all__ = ["idle", "large_hearing", "storage"]

MB = 1024 * 1024


async def _history_events(bench: BenchEnv, workflow_id: str) -> tuple[int, int]:
    """(runs, history events over all runs) of one workflow id."""
    runs = 0
    events = 0
    async for execution in bench.client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        handle = bench.client.get_workflow_handle(workflow_id, run_id=execution.run_id)
        described = await handle.describe()
        runs += 1
        events += described.raw_description.workflow_execution_info.history_length
    return runs, events


async def _wait_visible(bench: BenchEnv, workflow_id: str, runs: int) -> None:
    async def listed() -> bool:
        found = [e async for e in bench.client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        return len(found) >= runs

    await poll_until(listed, max_wait=30, interval=0.5, what="visibility of every run")


# ====================================================================== scenario 3


async def large_hearing(
    bench: BenchEnv, total: int, *, batch: int, max_wait: float
) -> dict[str, Any]:
    """`total` statements into one hearing through continue-as-new, via the client helper."""
    tag = uuid.uuid4().hex[:8]
    out: dict[str, Any] = {"total": total, "batch": batch}
    proc = await start_procedure(bench, f"bench-s3-{tag}", hearing_now=True)
    handle = proc
    items = [statement(f"k{i}") for i in range(total)]
    helper = StatementSubmitter(handle, batch_size=batch, max_in_flight=8)
    before = rss()
    async with RssSampler() as sampler:
        t0 = time.monotonic()
        result = await asyncio.wait_for(helper.submit(items), max_wait)
        receipts_at = time.monotonic()

        async def all_stored() -> bool:
            status = await handle.query(ProcedureWorkflow.status)
            return status.counts.get("statements", 0) >= total and status.counts["pending"] == 0

        stored_at = await poll_until(all_stored, max_wait=max_wait, interval=0.5, what="storage")
    status = await handle.query(ProcedureWorkflow.status)
    row = await bench.pool.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT statement_id) AS d FROM statements "
        "WHERE procedure_id = $1",
        proc.id,
    )
    received = await bench.pool.fetchval(
        "SELECT count(*) FROM events WHERE procedure_id = $1 AND event_type = 'statement.received'",
        proc.id,
    )
    assert row is not None
    await _wait_visible(bench, proc.id, status.run)
    runs, events = await _history_events(bench, proc.id)
    ids = {r.id for r in result.receipts}
    out["civicflow"] = {
        "seconds": stored_at - t0,
        "receipts_seconds": receipts_at - t0,
        "per_second": total / (stored_at - t0),
        "runs": runs,
        "history_events": events,
        "events_per_statement": events / total,
        "peak_rss_mb": sampler.peak / MB,
        "rss_growth_mb": (sampler.peak - before) / MB,
        "retries": helper.retries,
        # PROCEDURE_CONTINUING: batches refused while a run drained for continue-as-new
        "retry_reasons": dict(helper.retry_reasons),
        "receipts": len(result.receipts),
        "item_errors": len(result.errors),
        "stored_rows": int(row["n"]),
        "stored_distinct": int(row["d"]),
        "received_events": int(received),
        "duplicates_flagged": status.counts.get("duplicates", 0),
    }
    out["checks"] = {
        "stored_exactly_once": (
            len(ids) == total
            and int(row["n"]) == total
            and int(row["d"]) == total
            and int(received) == total
            and status.counts.get("statements") == total
            and not status.counts.get("duplicates")
        )
    }
    await handle.execute_update(
        ProcedureWorkflow.admin_cancel,
        {"idempotency_key": "bench-over", "role": "administration", "reason": "bench over"},
    )

    # bare: the same statements as batched updates, count only, continue-as-new
    bare_id = f"bare-s3-{tag}"
    bare = await bench.client.start_workflow(
        BareIntake.run, None, id=bare_id, task_queue=bench.bare_queue
    )
    bare_handle = bench.client.get_workflow_handle_for(BareIntake.run, bare_id)
    slots = asyncio.Semaphore(8)

    async def send(first: int) -> None:
        size = min(batch, total - first)
        payload = BareBatch(
            items=[BareItem(key=f"k{i}", text="Stellungnahme") for i in range(first, first + size)]
        )
        async with slots:
            await bare_handle.execute_update(BareIntake.submit_many, payload)

    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*map(send, range(0, total, batch))), max_wait)
    seconds = time.monotonic() - t0
    state: BareIntakeState = await bare_handle.query(BareIntake.received)
    await bare_handle.signal(BareIntake.finish)
    await bare_handle.result()
    await _wait_visible(bench, bare.id, state.runs)
    runs, events = await _history_events(bench, bare_id)
    out["bare"] = {
        "seconds": seconds,
        "per_second": total / seconds,
        "runs": runs,
        "history_events": events,
        "events_per_statement": events / total,
        "received": state.received,
    }
    out["ratio"] = out["civicflow"]["per_second"] / out["bare"]["per_second"]
    return out


# ====================================================================== scenario 4


class _Child:
    """A worker process (`bench.idle_worker`) and its RSS."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, bench: BenchEnv, kind: str, queue: str) -> _Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.idle_worker",
            kind,
            bench.address,
            queue,
            bench.database_url,
            bench.schema,
            cwd=str(REPO),
            env=bench.child_env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        child = cls(proc)
        line = await asyncio.wait_for(child._line(), 60)
        if line != "ready":
            msg = f"idle worker ({kind}) did not start: {line!r}"
            raise RuntimeError(msg)
        return child

    async def _line(self) -> str:
        assert self.proc.stdout is not None
        return (await self.proc.stdout.readline()).decode().strip()

    async def count(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"count\n")
        await self.proc.stdin.drain()
        return int(await self._line())

    def rss(self) -> int:
        return rss(self.proc.pid)

    async def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def _settle() -> None:
    await asyncio.sleep(0.5)  # let the worker finish its last task before RSS is read


async def _start_idle(bench: BenchEnv, kind: str, n: int, queue: str, tag: str) -> None:
    def job(i: int) -> Callable[[], Awaitable[Any]]:
        async def go() -> None:
            if kind == "civicflow":
                ref = f"bench-s4-{tag}-{i}"
                await bench.client.start_workflow(
                    ProcedureWorkflow.run,
                    procedure_input(ref, hearing_now=True),
                    id=workflow_id(ref),
                    task_queue=queue,
                )
            else:
                await bench.client.start_workflow(
                    BareSleeper.run, 30 * 24 * 3600.0, id=f"bare-s4-{tag}-{i}", task_queue=queue
                )

        return go

    await _bounded([job(i) for i in range(n)], 100)


async def _idle_side(
    bench: BenchEnv, kind: str, n: int, tag: str, spid: int | None, max_wait: float
) -> dict[str, Any]:
    """Start `n` workflows of one side on a worker process of its own; wait until all idle."""
    queue = f"bench-idle-{kind}-{tag}"
    child = await _Child.start(bench, kind, queue)
    prefix = workflow_id(f"bench-s4-{tag}-")

    async def ready() -> bool:
        if kind == "civicflow":
            return len(await phase_entered(bench, prefix, "hearing")) >= n
        return await child.count() >= n

    try:
        await _settle()
        worker_before, server_before = child.rss(), rss(spid) if spid else 0
        t0 = time.monotonic()
        await _start_idle(bench, kind, n, queue, tag)
        done = await poll_until(ready, max_wait=max_wait, interval=0.25, what=f"{kind} idle")
        await _settle()
        worker_after, server_after = child.rss(), rss(spid) if spid else 0
    finally:
        await child.stop()
    return {
        "start_seconds": done - t0,
        "per_second": n / (done - t0),
        "worker_rss_before_mb": worker_before / MB,
        "worker_rss_mb": worker_after / MB,
        "server_rss_mb": server_after / MB,
        "worker_kb_per_workflow": (worker_after - worker_before) / 1024 / n,
        "server_kb_per_workflow": (server_after - server_before) / 1024 / n,
    }


async def idle(bench: BenchEnv, n: int, *, max_wait: float) -> dict[str, Any]:
    """N procedures idle in their hearing vs N bare sleeping workflows, each side alone in a
    worker process: worker and server RSS growth, time until all are idle."""
    tag = uuid.uuid4().hex[:8]
    spid = server_pid()
    out: dict[str, Any] = {"n": n}
    for kind in ("bare", "civicflow"):
        out[kind] = await _idle_side(bench, kind, n, tag, spid, max_wait)
    civ, bare = out["civicflow"], out["bare"]
    out["ratio_worker_memory"] = _ratio(
        civ["worker_kb_per_workflow"], bare["worker_kb_per_workflow"]
    )
    out["ratio_server_memory"] = _ratio(
        civ["server_kb_per_workflow"], bare["server_kb_per_workflow"]
    )
    out["ratio_start"] = civ["per_second"] / bare["per_second"]
    out["checks"] = {"all_idle": True}  # `_idle_side` raises when one never gets there
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if b > 0 else None


# ====================================================================== scenario 5


async def storage(bench: BenchEnv, rows: int, *, batch: int) -> dict[str, Any]:
    """`store_statements` (key, idempotency, audit chain) vs raw asyncpg COPY of the same rows.

    Two rounds of `bench/storage_bench.measure_round`, each in a fresh schema of its own (so
    every repetition starts with empty tables, the harness's schema keeps the statements of
    the other scenarios): the issue's pair (store_statements and the jsonb reference) taking
    turns batch by batch, then a raw COPY into a keyed copy of `statements` taking turns with
    the reference (see `storage_bench.TARGET`: a third table in the first round only enlarges
    the working set the measured pair shares). CPU per row (this process and both PostgreSQL
    backends) is reported when /proc shows it.
    """
    statements = make_statements(rows, f"bench-s5-{uuid.uuid4().hex[:8]}")
    target = await storage_bench.measure_round(
        bench.database_url, statements, batch, labels=storage_bench.TARGET
    )
    context = await storage_bench.measure_round(
        bench.database_url, statements, batch, labels=(storage_bench.REFERENCE, storage_bench.KEYED)
    )
    out: dict[str, Any] = {"rows": rows, "batch": batch}
    for key, label, result in (
        ("raw_copy_jsonb", storage_bench.REFERENCE, target),
        ("store_statements", storage_bench.OURS, target),
        ("raw_copy_keyed", storage_bench.KEYED, context),
        ("raw_copy_jsonb_context", storage_bench.REFERENCE, context),
    ):
        seconds = result.seconds[label]
        out[key] = {"seconds": seconds, "per_second": rows / seconds}
        cpu = result.cpu_per_row(label)
        if cpu is not None:
            out[key]["cpu_us_per_row"] = cpu
    out["ratio"] = target.ratio(storage_bench.OURS)
    out["ratio_keyed"] = target.ratio_across(context, storage_bench.KEYED)
    ours, reference = (
        target.cpu_per_row(label) for label in (storage_bench.OURS, storage_bench.REFERENCE)
    )
    if ours is not None and reference is not None:
        out["cpu_ratio"] = reference / ours
    out["load_average_1m"] = os.getloadavg()[0]
    # The retry of every batch (all duplicates) ran before the count.
    out["checks"] = {"stored_exactly_once": target.stored == rows}
    return out
