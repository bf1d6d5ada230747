"""Benchmark of the public procedure list (issue 11) with 10,000 procedures: not a test.

Seeds a fresh schema through the real write path (`writes.record_procedure` and the audit
log's `append_events`, so the trigger of migration 0005 maintains the read model exactly as
for running procedures), in transactions of 200 procedures. Then measures, in one run:

  1. the whole list page through the real app (httpx ASGI transport: routing, parameter
     checks, read-model queries, Jinja rendering), for a mix of pages and filters;
  2. `readmodel.list_procedures` alone for the same requests (the database share);
  3. the same "current phase = hearing" filter computed from the event log per request
     (the last `phase.changed` of each procedure, payload parsed): what the page would cost
     without the read-model tables, so the ratio shows what migration 0005 buys.

Scenarios take turns round by round, so machine load hits all alike; each reports p50/p95
in milliseconds over all rounds.

    .venv/bin/python bench/web_list.py [--procedures 10000] [--rounds 30] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from activities.records import ProcedureRecord, stable_id
from activities.storage import writes
from activities.storage.audit import NewEvent, append_events
from activities.storage.migrate import apply_migrations
from activities.storage.pool import create_pool
from definitions import loader
from worker.web import catalogue, readmodel
from worker.web.app import create_app
from worker.web.models import PageRequest, ProcedureFilters
from worker.web.settings import WebSettings

T0 = datetime(2024, 1, 8, 8, 0, tzinfo=UTC)
WORDS = ["Bebauungsplan", "Quartier", "Radweg", "Schulcampus", "Stadtpark", "Bahnhof",
         "Nahwärme", "Spielplatz", "Marktplatz", "Wohnen am Fluss", "Gewerbe", "Ufer"]  # fmt: skip
MUNICIPALITIES = [f"08{n:03d}000" for n in range(200, 250)]  # 50 AGS keys
BATCH = 200


def _events(pid: str, defn_id: str, version: str, digest: str, ags: str, n: int) -> list[NewEvent]:
    """procedure.started, then one to four phase visits, one extension, maybe the end."""
    defn = catalogue.definition(defn_id, version)
    assert defn is not None
    rng = random.Random(n)
    started = T0 + timedelta(hours=n)
    events = [
        NewEvent(
            stable_id(pid, "event", "1"),
            "procedure.started",
            started,
            {"phase_id": defn.phases[0].id, "round": 1,
             "payload": {"definition_id": defn_id, "definition_version": version,
                         "definition_hash": digest, "municipality": ags, "land": "BW"}},
        )
    ]  # fmt: skip
    visits = rng.randint(1, min(4, len(defn.phases)))
    day = started.date()
    for index, phase in enumerate(defn.phases[:visits]):
        end = day + timedelta(days=rng.choice([7, 14, 30, 31]))
        at = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        body = {"phase_id": phase.id, "phase_type": phase.type, "round": 1, "visit": 1,
                "period_start": day.isoformat(), "period_end": end.isoformat(),
                "limited_to": None}  # fmt: skip
        events.append(
            NewEvent(stable_id(pid, "event", f"p{index}"), "phase.changed", at,
                     {"phase_id": phase.id, "round": 1, "payload": body})
        )  # fmt: skip
        if index == 0 and rng.random() < 0.2:
            events.append(
                NewEvent(stable_id(pid, "event", "x"), "deadline.extended", at,
                         {"phase_id": phase.id, "round": 1, "payload": {
                             "from": end.isoformat(),
                             "to": (end + timedelta(days=7)).isoformat(), "reason": "bench"}})
            )  # fmt: skip
        if index < visits - 1:
            events.append(
                NewEvent(stable_id(pid, "event", f"e{index}"), "phase.ended", at,
                         {"phase_id": phase.id, "round": 1,
                          "payload": {"phase_id": phase.id, "round": 1, "reason": "deadline",
                                      "counts": {}}})
            )  # fmt: skip
        day = end + timedelta(days=1)
    if rng.random() < 0.2:
        events.append(
            NewEvent(stable_id(pid, "event", "end"), "procedure.completed",
                     datetime.combine(day, datetime.min.time(), tzinfo=UTC),
                     {"phase_id": None, "round": 1, "payload": {"reason": "done", "counts": {}}})
        )  # fmt: skip
    return events


async def seed(pool: asyncpg.Pool, count: int) -> float:
    """Write `count` procedures; return the seconds it took."""
    catalogue = [(d.definition.id, d.definition.version, d.content_hash)
                 for d in loader.list_definitions()]  # fmt: skip
    began = time.perf_counter()
    for first in range(0, count, BATCH):
        async with pool.acquire() as conn, conn.transaction():
            for n in range(first, min(first + BATCH, count)):
                defn_id, version, digest = catalogue[n % len(catalogue)]
                ags = MUNICIPALITIES[n % len(MUNICIPALITIES)]
                pid = f"procedure-{ags}-{n:05d}"
                title = f"{WORDS[n % len(WORDS)]} {WORDS[(n * 7) % len(WORDS)]} Nr. {n}"
                record = ProcedureRecord(
                    procedure_id=pid, definition_id=defn_id, definition_version=version,
                    definition_hash=digest, title=title, municipality=ags, land="BW",
                    started_at=T0 + timedelta(hours=n), parameters={},
                )  # fmt: skip
                await writes.record_procedure(conn, record)
                await append_events(conn, pid, _events(pid, defn_id, version, digest, ags, n))
    return time.perf_counter() - began


# The phase filter without the read model: each procedure's newest phase.changed, parsed;
# like the page, it needs the number of matches and one page of them.
EVENT_DERIVED_FROM = """
FROM procedures p
JOIN LATERAL (
    SELECT (payload::jsonb -> 'data' -> 'payload' ->> 'phase_type') AS phase_type
    FROM events WHERE procedure_id = p.procedure_id AND event_type = 'phase.changed'
    ORDER BY seq DESC LIMIT 1
) e ON true
WHERE e.phase_type = $1 AND NOT EXISTS (
    SELECT 1 FROM events x WHERE x.procedure_id = p.procedure_id
    AND x.event_type IN ('procedure.completed', 'procedure.cancelled'))
"""


async def event_derived_page(pool: asyncpg.Pool, phase_type: str) -> None:
    await pool.fetchval("SELECT count(*) " + EVENT_DERIVED_FROM, phase_type)
    await pool.fetch(
        "SELECT p.procedure_id, p.title, p.municipality, p.started_at, e.phase_type "
        + EVENT_DERIVED_FROM
        + " ORDER BY p.started_at DESC, p.procedure_id LIMIT 20",
        phase_type,
    )


def _scenarios(total_pages: int) -> dict[str, str]:
    deep = max(1, total_pages * 4 // 5)
    return {
        "page 1": "/",
        f"page {deep} (deep)": f"/?page={deep}",
        "page_size=100": "/?page_size=100",
        "municipality": f"/?municipality={MUNICIPALITIES[7]}",
        "phase=hearing": "/?phase=hearing",
        "kind=bauleitplanung": "/?kind=bauleitplanung",
        "search q=radweg": "/?q=radweg",
        "municipality+phase+q, page 2": (
            f"/?municipality={MUNICIPALITIES[3]}&phase=invitation&q=e&page=2"
        ),
        "procedure page": "/procedures/procedure-08203000-00003",
    }


def _filters(path: str) -> tuple[ProcedureFilters, PageRequest] | None:
    if not path.startswith("/?") and path != "/":
        return None
    query = dict(p.split("=", 1) for p in path[2:].split("&") if p)
    page = PageRequest(int(query.pop("page", 1)), int(query.pop("page_size", 20)))
    return (
        ProcedureFilters(
            municipality=query.get("municipality"),
            kind=query.get("kind"),
            phase=query.get("phase"),  # type: ignore[arg-type]
            query=query.get("q"),
        ),
        page,
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(pool: asyncpg.Pool, rounds: int, count: int) -> None:
    app = create_app(WebSettings(), pool=pool)
    transport = httpx.ASGITransport(app=app)
    timings: dict[str, list[float]] = {}
    scenarios = _scenarios(max(1, count // 20))
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

        async def page(path: str) -> None:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.status_code)

        jobs: dict[str, Callable[[], Awaitable[object]]] = {}
        for name, path in scenarios.items():
            jobs[f"page  {name}"] = lambda path=path: page(path)  # type: ignore[misc]
            parsed = _filters(path)
            if parsed is not None:
                jobs[f"query {name}"] = lambda p=parsed: readmodel.list_procedures(pool, *p)  # type: ignore[misc]
        jobs["query phase=hearing from events (no 0005)"] = lambda: event_derived_page(
            pool, "hearing"
        )
        for job in jobs.values():  # warm-up: caches, prepared statements, templates
            await job()
        for _ in range(rounds):
            for name, job in jobs.items():
                began = time.perf_counter()
                await job()
                timings.setdefault(name, []).append((time.perf_counter() - began) * 1000)
    width = max(map(len, timings))
    print(f"{'scenario':<{width}}  p50 ms  p95 ms")
    for name, values in timings.items():
        print(f"{name:<{width}}  {_pct(values, 0.5):6.1f}  {_pct(values, 0.95):6.1f}")
    pages = [v for k, vs in timings.items() if k.startswith("page ") for v in vs]
    print(f"{'all pages':<{width}}  {_pct(pages, 0.5):6.1f}  {_pct(pages, 0.95):6.1f}")
    derived = statistics.median(timings["query phase=hearing from events (no 0005)"])
    ours = statistics.median(timings["query phase=hearing"])
    print(f"phase filter from events / read model (p50): {derived / ours:.0f} x")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--procedures", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "CIVICFLOW_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = parser.parse_args()
    schema = f"bench_web_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(args.url, schema=schema, max_size=4)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)
        seconds = await seed(pool, args.procedures)
        events = await pool.fetchval("SELECT count(*) FROM events")
        await pool.execute("ANALYZE")
        print(f"seeded {args.procedures} procedures ({events} events) in {seconds:.1f} s")
        print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        await measure(pool, args.rounds, args.procedures)
    finally:
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main())
