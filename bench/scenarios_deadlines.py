"""Scenario 4, second part: many procedures whose hearing deadlines fall on one instant.

A legal period ends at 24:00 Europe/Berlin (BGB § 188), so every § 3(2) publication a
municipality announced on the same day ends at the same instant, and so does every bare
workflow sleeping until one time. What is measured: from the moment the clock passes that
instant until every procedure has entered its next phase and its `phase.changed` event is
stored in PostgreSQL (civicflow), or until every bare workflow has run its one activity after
the timer (bare).

The deadline lies weeks ahead and the dev server cannot move its clock, so each repetition
runs on a time-skipping test server of its own (fresh server, schema and workers: timers left
by an earlier repetition cannot fire in this one). Both sides first skip to an hour before
the deadline and wait until the workers are quiet (civicflow sends its seven-days-before
reminders on the way), then skip two hours; the clock jump itself takes milliseconds, so the
time measured is the workers' and the server's work.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from temporalio.api.testservice.v1 import SleepRequest

from bench.baseline import BareDeadline
from bench.env import (
    BenchEnv,
    RssSampler,
    bench_env,
    percentile,
    poll_until,
    procedure_input,
    workflow_id,
)
from bench.scenarios import _bounded, phase_entered
from definitions import calendar
from workflows.procedure import ProcedureWorkflow

__all__ = ["deadlines"]

MB = 1024 * 1024
BEFORE = timedelta(hours=1)  # skip to this long before the deadline first
PAST = timedelta(hours=2)  # then this far: across the deadline
QUIET = 1.0  # seconds without a finished activity that count as "the workers are idle"


async def deadlines(database_url: str, n: int, *, max_wait: float) -> dict[str, Any]:
    """One repetition: `n` procedures, then `n` bare workflows, each side with one deadline."""
    async with bench_env(database_url, time_skipping=True) as bench:
        out: dict[str, Any] = {"n": n}
        # civicflow first: its start requests date the announcement by the wall clock, which
        # the server's clock matches only until the first skip
        out["civicflow"] = await _civicflow(bench, n, max_wait)
        out["bare"] = await _bare(bench, n, max_wait)
    civ, bare = out["civicflow"], out["bare"]
    out["ratio"] = civ["per_second"] / bare["per_second"] if bare["per_second"] else None
    out["checks"] = {
        "all_moved_on": civ["moved_on"] == n and bare["moved_on"] == n,
        "one_deadline": civ["distinct_deadlines"] == 1,
    }
    return out


def _activities_done(bench: BenchEnv) -> float:
    """Activity attempts the civicflow worker finished so far (from its own metrics)."""
    total = 0.0
    for family in bench.services.metrics.activity_duration.collect():
        for sample in family.samples:
            if sample.name.endswith("_count"):
                total += sample.value
    return total


async def _quiet(read: Callable[[], float], max_wait: float) -> None:
    """Wait until `read()` has not changed for `QUIET` seconds."""
    last, since = read(), time.monotonic()
    deadline = since + max_wait
    while time.monotonic() - since < QUIET:
        if time.monotonic() > deadline:
            msg = f"workers still busy after {max_wait:.0f} s"
            raise TimeoutError(msg)
        await asyncio.sleep(0.1)
        now = read()
        if now != last:
            last, since = now, time.monotonic()


async def _skip(bench: BenchEnv, duration: timedelta, max_wait: float) -> None:
    """`env.sleep`, with an RPC deadline of `max_wait`: skipping past a thousand timers that
    start activities takes the loaded test server longer than the client's default."""
    request = SleepRequest()
    request.duration.FromTimedelta(duration)
    await bench.client.test_service.unlock_time_skipping_with_sleep(
        request, timeout=timedelta(seconds=max_wait)
    )


async def _skip_across(
    bench: BenchEnv,
    deadline: datetime,
    quiet: Callable[[], Awaitable[None]],
    max_wait: float,
) -> float:
    """Skip to `BEFORE` the deadline, let the workers settle; return the monotonic time just
    before the clock is moved across it (the caller then waits for the moves)."""
    now = await bench.env.get_current_time()
    if deadline - BEFORE > now:
        await _skip(bench, deadline - BEFORE - now, max_wait)
    await quiet()
    return time.monotonic()


async def _civicflow(bench: BenchEnv, n: int, max_wait: float) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    refs = [f"bench-s4d-{tag}-{i}" for i in range(n)]
    prefix = workflow_id(f"bench-s4d-{tag}-")

    def job(ref: str) -> Callable[[], Awaitable[Any]]:
        async def go() -> None:
            await bench.client.start_workflow(
                ProcedureWorkflow.run,
                procedure_input(ref, hearing_now=True),
                id=workflow_id(ref),
                task_queue=bench.civic_queue,
            )

        return go

    t0 = time.monotonic()
    await _bounded([job(r) for r in refs], 100)

    async def all_in_hearing() -> bool:
        return len(await phase_entered(bench, prefix, "hearing")) >= n

    in_hearing = await poll_until(all_in_hearing, max_wait=max_wait, interval=0.25, what="hearings")
    ends = await bench.pool.fetch(
        "SELECT DISTINCT payload::jsonb #>> '{data,payload,period_end}' AS period_end FROM events "
        "WHERE event_type = 'phase.changed' AND procedure_id LIKE $1 AND payload LIKE $2",
        prefix + "%",
        '%"phase_id":"hearing"%',
    )
    deadline = calendar.deadline_instant(date.fromisoformat(ends[0]["period_end"]))
    quiet = lambda: _quiet(lambda: _activities_done(bench), max_wait)  # noqa: E731
    async with RssSampler() as sampler:
        moved_from = await _skip_across(bench, deadline, quiet, max_wait)
        fired_at = time.time()
        await _skip(bench, PAST, max_wait)
        entered: dict[str, float] = {}

        async def all_moved_on() -> bool:
            nonlocal entered
            entered = await phase_entered(bench, prefix, "weighing")
            return len(entered) >= n

        done = await poll_until(all_moved_on, max_wait=max_wait, interval=0.1, what="weighing")
    seconds = done - moved_from
    latencies = [at - fired_at for at in entered.values()]
    return {
        "start_seconds": in_hearing - t0,
        "seconds": seconds,
        "per_second": n / seconds,
        "latency_p50": percentile(latencies, 50),
        "latency_p99": percentile(latencies, 99),
        "moved_on": len(entered),
        "distinct_deadlines": len(ends),
        "peak_rss_mb": sampler.peak / MB,
    }


async def _bare(bench: BenchEnv, n: int, max_wait: float) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    deadline = await bench.env.get_current_time() + timedelta(days=30)
    bench.bare.reset(expect=n)

    def job(i: int) -> Callable[[], Awaitable[Any]]:
        async def go() -> None:
            await bench.client.start_workflow(
                BareDeadline.run,
                deadline,
                id=f"bare-s4d-{tag}-{i}",
                task_queue=bench.bare_queue,
            )

        return go

    t0 = time.monotonic()
    await _bounded([job(i) for i in range(n)], 100)
    await asyncio.wait_for(bench.bare.done.wait(), max_wait)
    sleeping = time.monotonic()

    async def quiet() -> None:
        await _quiet(lambda: float(bench.bare.calls), max_wait)

    async with RssSampler() as sampler:
        moved_from = await _skip_across(bench, deadline, quiet, max_wait)
        bench.bare.reset(expect=n)
        await _skip(bench, PAST, max_wait)
        await asyncio.wait_for(bench.bare.done.wait(), max_wait)
        done = time.monotonic()
    seconds = done - moved_from
    return {
        "start_seconds": sleeping - t0,
        "seconds": seconds,
        "per_second": n / seconds,
        "moved_on": bench.bare.calls,
        "peak_rss_mb": sampler.peak / MB,
    }
