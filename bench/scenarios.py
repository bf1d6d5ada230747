"""Scenarios 1 and 2: start latency and throughput, statement intake.

Each function runs one repetition of civicflow and of the bare baseline against the same
`BenchEnv` and returns plain dicts (JSON-ready). Timing is wall clock on a shared machine:
compare the two sides of one run, not figures across runs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import WorkflowHandle

from bench.baseline import BareBatch, BareIntake, BareItem, BareReceipt, BareStart
from bench.env import BenchEnv, percentile, poll_until, procedure_input, workflow_id
from workflows import messages as m
from workflows.client import StatementSubmitter
from workflows.procedure import ProcedureWorkflow

__all__ = ["intake", "phase_entered", "start_procedure", "starts", "statement"]

START_CONCURRENCY = 100  # start requests in flight at once, for both sides


def statement(key: str) -> m.StatementInput:
    text = f"Stellungnahme {key}: Bitte den Radweg an der Bahnstadt und die Bäume erhalten."
    return m.StatementInput(
        idempotency_key=key, role="public", statement_type="objection", text=text
    )


async def start_procedure(
    bench: BenchEnv, reference: str, *, hearing_now: bool
) -> WorkflowHandle[ProcedureWorkflow, m.ProcedureResult]:
    """Start a procedure; with `hearing_now`, return once its hearing accepts statements."""
    handle = await bench.client.start_workflow(
        ProcedureWorkflow.run,
        procedure_input(reference, hearing_now=hearing_now),
        id=workflow_id(reference),
        task_queue=bench.civic_queue,
    )
    if hearing_now:

        async def in_hearing() -> bool:
            status = await handle.query(ProcedureWorkflow.status)
            return status.phase_id == "hearing"

        await poll_until(in_hearing, max_wait=60, interval=0.05, what="the hearing phase")
    return handle


async def phase_entered(bench: BenchEnv, prefix: str, phase: str) -> dict[str, float]:
    """procedure_id -> epoch seconds at which `phase` was entered (its event stored)."""
    rows = await bench.pool.fetch(
        "SELECT procedure_id, min(extract(epoch FROM recorded_at)) AS at FROM events "
        "WHERE event_type = 'phase.changed' AND procedure_id LIKE $1 AND payload LIKE $2 "
        "GROUP BY procedure_id",
        prefix + "%",
        f'%"phase_id":"{phase}"%',
    )
    return {row["procedure_id"]: float(row["at"]) for row in rows}


async def _bounded(jobs: list[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    slots = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with slots:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


# ====================================================================== scenario 1


async def starts(bench: BenchEnv, n: int, *, max_wait: float) -> dict[str, Any]:
    """N procedures until each has its first phase active, vs N bare one-activity workflows."""
    tag = uuid.uuid4().hex[:8]
    out: dict[str, Any] = {"n": n}

    # civicflow: the first phase is entered when its `phase.changed` event is stored
    refs = [f"bench-s1-{tag}-{i}" for i in range(n)]
    sent: dict[str, float] = {}

    def civic_job(ref: str) -> Callable[[], Awaitable[Any]]:
        async def job() -> None:
            sent[workflow_id(ref)] = time.time()
            await start_procedure(bench, ref, hearing_now=False)

        return job

    prefix = workflow_id(f"bench-s1-{tag}-")
    t0 = time.monotonic()
    await _bounded([civic_job(r) for r in refs], START_CONCURRENCY)
    started = time.monotonic()
    entered: dict[str, float] = {}

    async def all_entered() -> bool:
        nonlocal entered
        entered = await phase_entered(bench, prefix, "announcement")
        return len(entered) >= n

    done = await poll_until(all_entered, max_wait=max_wait, interval=0.2, what="first phases")
    latencies = [entered[k] - sent[k] for k in sent if k in entered]
    out["civicflow"] = {
        "seconds": done - t0,
        "start_calls_seconds": started - t0,
        "per_second": n / (done - t0),
        "latency_p50": percentile(latencies, 50),
        "latency_p99": percentile(latencies, 99),
        "first_phase_active": len(entered),
    }

    # bare: one activity, then complete; started the same way, results awaited together
    bare_sent: dict[str, float] = {}
    handles: list[WorkflowHandle[Any, Any]] = []

    def bare_job(i: int) -> Callable[[], Awaitable[Any]]:
        async def job() -> None:
            wid = f"bare-s1-{tag}-{i}"
            bare_sent[wid] = time.time()
            handles.append(
                await bench.client.start_workflow(
                    BareStart.run, f"s1-{i}", id=wid, task_queue=bench.bare_queue
                )
            )

        return job

    async def finished(handle: WorkflowHandle[Any, Any]) -> float:
        await handle.result()
        return time.time() - bare_sent[handle.id]

    t0 = time.monotonic()
    await asyncio.wait_for(_bounded([bare_job(i) for i in range(n)], START_CONCURRENCY), max_wait)
    bare_lat = list(await asyncio.wait_for(asyncio.gather(*map(finished, handles)), max_wait))
    seconds = time.monotonic() - t0
    out["bare"] = {
        "seconds": seconds,
        "per_second": n / seconds,
        "latency_p50": percentile(bare_lat, 50),
        "latency_p99": percentile(bare_lat, 99),
        "completed": len(bare_lat),
    }
    out["ratio"] = out["civicflow"]["per_second"] / out["bare"]["per_second"]
    out["checks"] = {"all_started": len(entered) == n and len(bare_lat) == n}
    return out


# ====================================================================== scenario 2


async def _drive(
    total: int,
    chunk: int,
    submitters: int,
    budget: float,
    send: Callable[[int, int], Awaitable[int]],
) -> dict[str, Any]:
    """`submitters` loops take chunks [i, i+chunk) of `total` until done or `budget` s passed.

    `send(first, size)` submits one chunk and returns how many receipts came back. Every
    statement's receipt latency is the latency of the call that carried it.
    """
    queue: asyncio.Queue[int] = asyncio.Queue()
    for first in range(0, total, chunk):
        queue.put_nowait(first)
    latencies: list[float] = []
    failures: list[str] = []
    received = 0
    t0 = time.monotonic()
    stop_at = t0 + budget

    async def loop() -> None:
        nonlocal received
        while not queue.empty() and time.monotonic() < stop_at:
            first = queue.get_nowait()
            size = min(chunk, total - first)
            at = time.monotonic()
            try:
                got = await asyncio.wait_for(send(first, size), max(1.0, stop_at - at + 2))
            except Exception as err:  # counted and reported: a collapse is a result here
                failures.append(f"{type(err).__name__}: {str(err)[:120]}")
                continue
            latency = time.monotonic() - at
            received += got
            latencies.extend([latency] * got)

    await asyncio.gather(*(loop() for _ in range(submitters)))
    seconds = time.monotonic() - t0
    return {
        "statements": received,
        "seconds": seconds,
        "per_second": received / seconds if seconds else 0.0,
        "latency_p50": percentile(latencies, 50),
        "latency_p99": percentile(latencies, 99),
        "failures": len(failures),
        "failure_sample": sorted(set(failures))[:3],
        "completed_all": received == total,
    }


async def intake(
    bench: BenchEnv, total: int, *, chunk: int, budget: float, concurrency: tuple[int, ...]
) -> dict[str, Any]:
    """Statements into one procedure in its hearing vs updates to a bare workflow."""
    tag = uuid.uuid4().hex[:8]
    out: dict[str, Any] = {"total": total, "chunk": chunk, "budget_seconds": budget}
    stored_ok = True

    for c in concurrency:
        # bare, one update per statement
        bare = await bench.client.start_workflow(
            BareIntake.run, None, id=f"bare-s2-{tag}-single-{c}", task_queue=bench.bare_queue
        )

        async def bare_single(first: int, size: int, h: WorkflowHandle[Any, Any] = bare) -> int:
            for i in range(first, first + size):
                await h.execute_update(
                    BareIntake.submit, BareItem(key=f"k{i}", text="Stellungnahme")
                )
            return size

        out[f"bare_single_c{c}"] = await _drive(total, 1, c, budget, bare_single)
        await bare.signal(BareIntake.finish)

        # bare, batched updates
        bare_b = await bench.client.start_workflow(
            BareIntake.run, None, id=f"bare-s2-{tag}-batch-{c}", task_queue=bench.bare_queue
        )

        async def bare_batched(first: int, size: int, h: WorkflowHandle[Any, Any] = bare_b) -> int:
            batch = BareBatch(
                items=[
                    BareItem(key=f"k{i}", text="Stellungnahme") for i in range(first, first + size)
                ]
            )
            got: list[BareReceipt] = await h.execute_update(BareIntake.submit_many, batch)
            return len(got)

        out[f"bare_batched_c{c}"] = await _drive(total, chunk, c, budget, bare_batched)
        await bare_b.signal(BareIntake.finish)

        # civicflow, one `submit_statement` update per statement
        ref = f"bench-s2-{tag}-single-{c}"
        proc = await start_procedure(bench, ref, hearing_now=True)

        async def civic_single(first: int, size: int, h: WorkflowHandle[Any, Any] = proc) -> int:
            for i in range(first, first + size):
                await h.execute_update(ProcedureWorkflow.submit_statement, statement(f"k{i}"))
            return size

        out[f"civicflow_single_c{c}"] = await _drive(total, 1, c, budget, civic_single)
        stored_ok &= await _stored_once(bench, proc.id, out[f"civicflow_single_c{c}"])

        # civicflow, the client helper: batched `submit_statements`, bounded, retried
        ref = f"bench-s2-{tag}-batch-{c}"
        proc_b = await start_procedure(bench, ref, hearing_now=True)
        helper = StatementSubmitter(proc_b, batch_size=chunk, max_in_flight=8)

        async def civic_batched(first: int, size: int, s: StatementSubmitter = helper) -> int:
            result = await s.submit([statement(f"k{i}") for i in range(first, first + size)])
            if result.errors:
                msg = f"{len(result.errors)} statements refused: {result.errors[0].message}"
                raise RuntimeError(msg)
            return len(result.receipts)

        result = await _drive(total, chunk, c, budget, civic_batched)
        result["retries"] = helper.retries
        out[f"civicflow_batched_c{c}"] = result
        stored_ok &= await _stored_once(bench, proc_b.id, result)

    base = out.get("bare_single_c10", out[f"bare_single_c{concurrency[0]}"])["per_second"]
    out["ratios"] = {
        key: value["per_second"] / base
        for key, value in out.items()
        if isinstance(value, dict) and "per_second" in value and base
    }
    # civicflow's client path must deliver every statement at every concurrency
    out["checks"] = {
        "stored_exactly_once": stored_ok,
        "every_statement_acknowledged": all(
            out[f"civicflow_batched_c{c}"]["completed_all"] for c in concurrency
        ),
    }
    return out


async def _stored_once(bench: BenchEnv, procedure_id: str, result: dict[str, Any]) -> bool:
    """Every acknowledged statement is stored, none twice (the flusher may lag receipts)."""
    expected = result["statements"]

    async def counts() -> bool:
        row = await bench.pool.fetchrow(
            "SELECT count(*) AS n, count(DISTINCT statement_id) AS d FROM statements "
            "WHERE procedure_id = $1",
            procedure_id,
        )
        assert row is not None
        return bool(row["n"] >= expected)

    await poll_until(counts, max_wait=60, what="statements stored")
    row = await bench.pool.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT statement_id) AS d FROM statements "
        "WHERE procedure_id = $1",
        procedure_id,
    )
    assert row is not None
    result["stored"] = int(row["n"])
    # a call that timed out may still have landed: stored >= acknowledged, never doubled
    return bool(row["n"] == row["d"] and row["n"] >= expected)
