"""The benchmark run: every scenario, civicflow and bare side by side, repeated, summarised.

    .venv/bin/civicflow bench [--mode full|quick|smoke|issue] [--output bench/results]

Sizes per mode are in `MODES` (the issue's sizes scaled to a shared 2-core machine; see
bench/REPORT.md). Results go to `<output>/latest.json`, a markdown report and PNG plots
next to it. Correctness checks (every statement stored exactly once, every procedure
started) are collected under `checks`; timing is reported, never asserted.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import scenarios, scenarios_big, scenarios_deadlines
from bench.env import DEFAULT_DATABASE_URL, BenchEnv, GcMonitor, bench_env, rss, server_pid

__all__ = ["MODES", "Mode", "main", "run_bench", "summarise", "write_outputs"]


@dataclass(frozen=True)
class Mode:
    repetitions: int
    start_sizes: tuple[int, ...]  # scenario 1: procedures started at once
    intake_total: int  # scenario 2: statements per case (or until the budget ends)
    intake_chunk: int  # statements per client call / batch
    intake_budget: float  # seconds per case at most
    intake_concurrency: tuple[int, ...]
    hearing_sizes: tuple[int, ...]  # scenario 3: statements into one hearing
    hearing_batch: int
    idle_sizes: tuple[int, ...]  # scenario 4: idle procedures
    deadline_sizes: tuple[int, ...]  # scenario 4: procedures whose deadlines fire together
    storage_rows: int  # scenario 5
    storage_batch: int
    max_wait: float  # seconds any one wait may take


MODES: dict[str, Mode] = {
    "smoke": Mode(1, (10,), 40, 10, 3.0, (10,), (400,), 100, (10,), (10,), 1000, 500, 120.0),
    "quick": Mode(3, (40,), 150, 25, 2.5, (10, 50), (2000,), 500, (50,), (30,), 5000, 1000, 300.0),
    # The issue's own sizes, once each: hours on this machine, so run scenario by scenario
    # (`--mode issue --only idle`); full mode is the same shape scaled down.
    "issue": Mode(
        1,
        (1000,),
        3000,
        100,
        8.0,
        (10, 50),
        (100_000,),
        500,
        (10_000,),
        (10_000,),
        100_000,
        1000,
        3600.0,
    ),
    "full": Mode(
        3,
        (100, 300),
        3000,
        100,
        8.0,
        (10, 50),
        (20_000,),
        500,
        (200, 500),
        (300, 1000),
        30_000,
        1000,
        240.0,
    ),
}
SCENARIOS = frozenset({"start", "intake", "large_hearing", "storage", "deadlines", "idle"})
"""Scenario names, as in the result's `scenarios` and `civicflow bench --only`."""
BIG_HEARING = 100_000  # the large hearing, run once at the end of a full run


def _spread(values: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def _numbers(reps: list[dict[str, Any]], path: tuple[str, ...]) -> list[float]:
    out = []
    for rep in reps:
        value: Any = rep
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append(float(value))
    return out


def summarise(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min, max of every number the repetitions share, in the same nesting."""

    def walk(sample: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in sample.items():
            if isinstance(value, dict):
                out[key] = walk(value, (*path, key))
            elif isinstance(value, int | float) and not isinstance(value, bool):
                values = _numbers(reps, (*path, key))
                if values:
                    out[key] = _spread(values)
        return out

    done = [rep for rep in reps if "error" not in rep]
    return walk(done[0], ()) if done else {}


def _checks(reps: list[dict[str, Any]]) -> dict[str, bool]:
    found: dict[str, bool] = {}
    for rep in reps:
        for key, ok in rep.get("checks", {}).items():
            found[key] = found.get(key, True) and bool(ok)
    return found


async def _repeat(
    name: str,
    reps: int,
    run: Callable[[], Awaitable[dict[str, Any]]],
    log: Callable[[str], None],
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for i in range(reps):
        at = time.monotonic()
        with GcMonitor() as gc_pauses:
            try:
                results.append(await run())
            except Exception as err:  # one failed repetition is a result, not the end of the run
                results.append({"error": _describe(err), "checks": {"ran": False}})
        results[-1]["gc"] = gc_pauses.result()
        state = f"FAILED ({results[-1]['error'][:200]})" if "error" in results[-1] else "done"
        log(f"  {name}: repetition {i + 1}/{reps} {state} in {time.monotonic() - at:.1f} s")
    return {"repetitions": results, "summary": summarise(results), "checks": _checks(results)}


async def run_bench(
    mode_name: str,
    *,
    database_url: str | None = None,
    log: Callable[[str], None] = print,
    big_hearing: bool | None = None,
    only: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Run every scenario in `mode_name` (or those named in `only`); the JSON-ready result."""
    mode = MODES[mode_name]
    if only is not None and not only <= SCENARIOS:
        unknown, known = sorted(only - SCENARIOS), sorted(SCENARIOS)
        msg = f"only: unknown scenarios {unknown}; expected some of {known}"
        raise ValueError(msg)
    wanted = only if only is not None else SCENARIOS
    url = database_url or os.environ.get("CIVICFLOW_DATABASE_URL", DEFAULT_DATABASE_URL)
    began = time.monotonic()
    result: dict[str, Any] = {
        "mode": mode_name,
        "sizes": asdict(mode),
        "started_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "scenarios": {},
    }
    sc: dict[str, Any] = result["scenarios"]
    async with bench_env(url) as bench:
        result["rss_at_start_mb"] = {
            "harness_and_workers": rss() / 2**20,
            "server": rss(server_pid()) / 2**20 if server_pid() else None,
        }
        log(f"civicflow bench ({mode_name}): dev server at {bench.address}, schema {bench.schema}")
        # Long-lived servers freeze their start-up objects so full collections stay short:
        # a collection that outlasts Temporal's 2 s deadlock detector fails a workflow task.
        gc.collect()
        gc.freeze()
        if "start" in wanted:
            sc["start"] = {
                str(n): await _repeat(
                    f"1 start n={n}", mode.repetitions, _s1(bench, n, mode.max_wait), log
                )
                for n in mode.start_sizes
            }
        if "intake" in wanted:
            sc["intake"] = await _repeat(
                "2 intake",
                mode.repetitions,
                lambda: scenarios.intake(
                    bench,
                    mode.intake_total,
                    chunk=mode.intake_chunk,
                    budget=mode.intake_budget,
                    concurrency=mode.intake_concurrency,
                ),
                log,
            )
        if "large_hearing" in wanted:
            sc["large_hearing"] = {
                str(n): await _repeat(
                    f"3 large hearing n={n}",
                    mode.repetitions,
                    _s3(bench, n, mode.hearing_batch, mode.max_wait),
                    log,
                )
                for n in mode.hearing_sizes
            }
            if big_hearing if big_hearing is not None else mode_name == "full":
                sc["large_hearing"][str(BIG_HEARING)] = await _repeat(
                    f"3 large hearing n={BIG_HEARING}",
                    1,
                    _s3(bench, BIG_HEARING, mode.hearing_batch, mode.max_wait),
                    log,
                )
        if "storage" in wanted:
            sc["storage"] = await _repeat(
                "5 storage",
                mode.repetitions,
                lambda: scenarios_big.storage(bench, mode.storage_rows, batch=mode.storage_batch),
                log,
            )
        if "deadlines" in wanted:  # each repetition on a time-skipping server of its own
            sc["deadlines"] = {
                str(n): await _repeat(
                    f"4 deadlines n={n}",
                    mode.repetitions,
                    _s4d(url, n, mode.max_wait),
                    log,
                )
                for n in mode.deadline_sizes
            }
        # last: idle workflows stay on the server and would weigh on the other scenarios
        if "idle" in wanted:
            sc["idle"] = {
                str(n): await _repeat(
                    f"4 idle n={n}", mode.repetitions, _s4(bench, n, mode.max_wait), log
                )
                for n in mode.idle_sizes
            }
    gc.unfreeze()
    result["seconds"] = time.monotonic() - began
    result["checks"] = _all_checks(sc)
    return result


def write_outputs(result: dict[str, Any], output: Path) -> None:
    """`latest.json`, `report.md` and the PNG plots, in `output`."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "latest.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    from bench import report  # matplotlib only when writing a report

    report.write(result, output)


def _describe(err: BaseException) -> str:
    """The error and its causes (an update failure's reason is in its cause)."""
    parts: list[str] = []
    seen: BaseException | None = err
    while seen is not None and len(parts) < 4:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__
    return " <- ".join(parts)


def _s1(bench: BenchEnv, n: int, max_wait: float) -> Callable[[], Awaitable[dict[str, Any]]]:
    return lambda: scenarios.starts(bench, n, max_wait=max_wait)


def _s3(
    bench: BenchEnv, n: int, batch: int, max_wait: float
) -> Callable[[], Awaitable[dict[str, Any]]]:
    return lambda: scenarios_big.large_hearing(bench, n, batch=batch, max_wait=max_wait)


def _s4(bench: BenchEnv, n: int, max_wait: float) -> Callable[[], Awaitable[dict[str, Any]]]:
    return lambda: scenarios_big.idle(bench, n, max_wait=max_wait)


def _s4d(url: str, n: int, max_wait: float) -> Callable[[], Awaitable[dict[str, Any]]]:
    return lambda: scenarios_deadlines.deadlines(url, n, max_wait=max_wait)


def _all_checks(sc: dict[str, Any]) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for name, value in sc.items():
        groups = [value] if "checks" in value else list(value.values())
        for group in groups:
            for key, ok in group["checks"].items():
                out[f"{name}.{key}"] = out.get(f"{name}.{key}", True) and ok
    return out


def main(
    mode: str,
    output: Path,
    database_url: str | None = None,
    only: frozenset[str] | None = None,
) -> int:
    result = asyncio.run(run_bench(mode, database_url=database_url, only=only))
    write_outputs(result, output)
    failed = [k for k, ok in result["checks"].items() if not ok]
    print(f"done in {result['seconds']:.0f} s; results in {output / 'latest.json'}")
    if failed:
        print("FAILED checks: " + ", ".join(failed))
        return 1
    return 0
