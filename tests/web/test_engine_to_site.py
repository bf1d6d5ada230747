"""A real procedure on a real Temporal dev server and worker, then read on the public site.

The read model (migration 0005) depends on the exact payloads the engine appends; the other
page tests seed events the way the engine writes them, this one checks that assumption
against the engine itself: phases, an extension, a statement, a decision, a commitment and
the end; then the pages show them, and no statement text.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from temporalio.testing import WorkflowEnvironment

from tests.interfaces import support
from tests.web.html_checks import check_page, text_of
from tests.web.site import site_client
from worker import registry
from worker.config import Settings, load_settings
from worker.run import build_worker
from worker.telemetry import Metrics
from worker.web import readmodel
from worker.web.models import ProcedureFilters
from workflows import messages as m

pytestmark = pytest.mark.integration


@pytest.fixture
async def worker_settings(
    dev_env: WorkflowEnvironment, database_url: str, db_schema: str, db_pool: asyncpg.Pool
) -> AsyncIterator[Settings]:
    settings = load_settings(
        task_queue=f"web-{uuid.uuid4().hex[:8]}",
        temporal_address=dev_env.client.service_client.config.target_host,
        database_url=database_url,
        database_schema=db_schema,
        metrics_port=0,
    )
    deps = registry.ActivityDeps(pool=db_pool, metrics=Metrics(CollectorRegistry()),
                                 settings=settings)  # fmt: skip
    worker = build_worker(
        dev_env.client,
        settings,
        workflows=registry.WORKFLOWS,
        activities=registry.build_activities(deps),
    )
    try:
        async with worker:
            yield settings
    finally:
        for close in deps.closers:
            await close()


async def _update(handle: object, name: str, data: Mapping[str, object]) -> object:
    key = {"idempotency_key": f"{name}-{uuid.uuid4().hex[:8]}"}
    return await handle.execute_update(name, {**key, **data}, result_type=m.Receipt)  # type: ignore[attr-defined]


async def test_a_real_procedure_on_the_site(
    dev_env: WorkflowEnvironment, worker_settings: Settings, db_pool: asyncpg.Pool
) -> None:
    handle = await support.start(
        dev_env.client, worker_settings.task_queue, support.fresh("baugb-3-2")
    )
    await support.wait_phase(handle, "announcement")
    listed = await readmodel.list_procedures(db_pool)
    assert [(p.procedure_id, p.phase_id, p.phase_type) for p in listed.items] == [
        (handle.id, "announcement", "invitation")
    ]
    await support.advance(handle, "hearing")
    secret = f"Geheimer Text {uuid.uuid4().hex}"
    await handle.execute_update(
        "submit_statement",
        {"idempotency_key": "s1", "role": "public", "statement_type": "objection",
         "text": secret},
        result_type=m.StatementReceipt,
    )  # fmt: skip
    ends = (await support.status(handle)).phase_ends
    assert ends is not None
    new_end = ends + timedelta(days=7)
    extend = {"role": "administration", "reason": "Ferien", "new_end": new_end.isoformat()}
    await _update(handle, "admin_extend_deadline", extend)
    hearing = await readmodel.list_procedures(db_pool, ProcedureFilters(phase="hearing"))
    assert [p.period_end for p in hearing.items] == [new_end]
    await support.advance(handle, "weighing")
    await support.advance(handle, "decision")
    await _update(handle, "add_commitment", {
        "role": "council", "owner_role": "council", "owner_organisation": "Gemeinderat",
        "title": "Spielplatz erneuern", "measurable_aim": "Neue Geräte bis Juni",
        "due_date": (readmodel.today_in_berlin() + timedelta(days=90)).isoformat()})  # fmt: skip
    await _update(handle, "record_decision", {
        "role": "council", "outcome": "adopted", "title": "Satzungsbeschluss",
        "ends_phase": True})  # fmt: skip
    assert (await handle.result())["state"] == "completed"

    detail = await readmodel.get_procedure(db_pool, handle.id)
    assert detail is not None
    assert detail.summary.state == "completed"
    assert detail.current is None
    # The engine records the definition's kind with the procedure (migration 0004).
    kind = await db_pool.fetchval("SELECT kind FROM procedures WHERE procedure_id = $1", handle.id)
    assert kind == "bauleitplanung"
    assert [v.phase_id for v in detail.visits] == ["announcement", "hearing", "weighing",
                                                    "decision"]  # fmt: skip
    hearing_visit = detail.visits[1]
    assert (hearing_visit.planned_end, hearing_visit.period_end) == (ends, new_end)
    assert hearing_visit.extensions == 1
    assert all(v.ended_at is not None for v in detail.visits)
    assert [(c.round, c.total) for c in detail.statement_counts] == [(1, 1)]
    assert [(d.title, d.outcome) for d in detail.decisions] == [("Satzungsbeschluss", "adopted")]
    (commitment,) = detail.commitments
    assert (commitment.owner_organisation, commitment.public_status) == ("Gemeinderat", "on_track")
    deadlines = await readmodel.list_deadlines(db_pool, procedure_id=handle.id)
    assert new_end in [d.period_end for d in deadlines]

    async with site_client(db_pool) as client:
        response = await client.get(f"/procedures/{handle.id}")
        assert response.status_code == 200
        doc = check_page(response.text, "de")
        assert "abgeschlossen" in text_of(doc.xpath("//dd[@id='state']")[0])
        assert secret not in response.text
        listing = await client.get("/?state=completed")
        assert handle.id in listing.text
