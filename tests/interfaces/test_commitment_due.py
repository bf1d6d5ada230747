"""`de.civicflow.commitment.due`: sent once per commitment when its due date begins.

A real Quartiersdialog on a time-skipping server of this module's own (the clock moves by
weeks), with the real worker, storage and outbox in PostgreSQL: the test adds commitments,
moves the clock past their due dates and reads the events table and the webhook outbox.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.records import stable_id
from activities.storage.subscriptions import Subscription, save_subscription
from definitions.calendar import berlin_date
from tests.helpers import assert_eq_eventually
from tests.interfaces import support, test_events
from tests.workflows.support import register_search_attributes
from worker import registry
from worker.binaries import temporal_test_server
from worker.config import load_settings
from worker.run import build_worker
from worker.telemetry import Metrics, TelemetryInterceptor
from workflows import messages as m
from workflows.phases.due import due_instant
from workflows.procedure import ProcedureWorkflow

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this module's own: its clock jumps by weeks."""
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
    )
    try:
        await register_search_attributes(environment)
        yield environment
    finally:
        await environment.shutdown()


def commitment(key: str, owner: str, title: str, due: date) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "role": "administration",
        "owner_role": owner,
        "owner_organisation": "Stadt Heidelberg",
        "title": title,
        "measurable_aim": "messbar",
        "due_date": due.isoformat(),
    }


async def due_rows(pool: asyncpg.Pool, procedure_id: str) -> list[tuple[str, str, str]]:
    """(event_id, commitment_id, due_date) of every stored commitment.due event."""
    rows = await pool.fetch(
        "SELECT event_id, payload FROM events WHERE procedure_id = $1 "
        "AND event_type = 'commitment.due' ORDER BY seq",
        procedure_id,
    )
    out = []
    for row in rows:
        data = json.loads(row["payload"])["data"]["payload"]
        out.append((row["event_id"], data["commitment_id"], data["due_date"]))
    return out


async def test_commitment_due_lands_once_per_commitment(
    skipping: WorkflowEnvironment, database_url: str, db_schema: str, db_pool: asyncpg.Pool
) -> None:
    client = skipping.client
    settings = load_settings(
        task_queue=f"due-{uuid.uuid4().hex[:8]}",
        temporal_address=client.service_client.config.target_host,
        database_url=database_url,
        database_schema=db_schema,
        metrics_port=0,
    )
    metrics = Metrics(CollectorRegistry())
    deps = registry.ActivityDeps(pool=db_pool, metrics=metrics, settings=settings)
    worker = build_worker(
        client,
        settings,
        workflows=registry.WORKFLOWS,
        activities=registry.build_activities(deps),
        interceptors=[TelemetryInterceptor(metrics)],
    )
    await save_subscription(
        db_pool,
        Subscription(
            "tracker",
            "https://tracker.example/hooks",
            "TRACKER",
            "quartiersdialog",
            event_types=("de.civicflow.commitment.*",),
        ),
    )
    try:
        async with worker:
            await _run(skipping, db_pool, settings.task_queue)
    finally:
        for close in deps.closers:
            await close()


async def _run(env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str) -> None:
    handle: WorkflowHandle[Any, Any] = await support.start(
        env.client, task_queue, support.fresh("quartiersdialog")
    )
    await support.wait_phase(handle, "kickoff")
    for phase in ("ideas", "workshops", "commitments"):
        await support.advance(handle, phase)
    today = berlin_date(await env.get_current_time())
    ids = {}
    for key, owner, title, days in (
        ("c-hof", "business", "Begrünte Innenhöfe", 10),
        ("c-bank", "administration", "Sitzbänke am Platz", 20),
        ("c-done", "council", "Haushaltsmittel", 15),
    ):
        receipt = await handle.execute_update(
            "add_commitment",
            commitment(key, owner, title, today + timedelta(days=days)),
            result_type=m.Receipt,
        )
        ids[key] = receipt.id
    await support.advance(handle, "yearly_review")
    done = {"idempotency_key": "r1", "role": "council", "status": "done", "progress_percent": 100}
    await handle.execute_update(
        "report_progress", {**done, "commitment_id": ids["c-done"]}, result_type=m.Receipt
    )
    assert await due_rows(pool, handle.id) == []

    def row(key: str, days: int) -> tuple[str, str, str]:
        event_id = stable_id(handle.id, "commitment.due", ids[key])
        return event_id, ids[key], (today + timedelta(days=days)).isoformat()

    # the first date begins: exactly that commitment, at 00:00 Berlin of its due date
    await env.sleep(timedelta(days=12))
    first = [row("c-hof", 10)]
    await assert_eq_eventually(first, lambda: due_rows(pool, handle.id), timeout=support.WAIT)
    occurred = await pool.fetchval(
        "SELECT occurred_at FROM events WHERE procedure_id = $1 AND event_id = $2",
        handle.id,
        first[0][0],
    )
    assert due_instant(today + timedelta(days=10)) <= occurred
    assert occurred < due_instant(today + timedelta(days=10)) + timedelta(minutes=5)

    # later dates: the second one once, the first not again, the one done before never
    await env.sleep(timedelta(days=30))
    both = [row("c-hof", 10), row("c-bank", 20)]
    await assert_eq_eventually(both, lambda: due_rows(pool, handle.id), timeout=support.WAIT)
    await support.advance(handle, "yearly_review")  # a new review cycle announces nothing anew
    assert await due_rows(pool, handle.id) == both

    outbox = await pool.fetch(
        "SELECT event_id, payload FROM outbox WHERE channel = 'webhook' AND recipient = $1",
        "tracker",
    )
    webhooks = [
        (r["event_id"], json.loads(r["payload"])["data"])
        for r in outbox
        if json.loads(r["payload"])["type"] == "de.civicflow.commitment.due"
    ]
    sent = sorted((event_id, data["commitment_id"]) for event_id, data in webhooks)
    assert sent == sorted((event_id, cid) for event_id, cid, _ in both)
    documented = test_events.documented()["de.civicflow.commitment.due"]["data"]
    assert all(set(data) == set(documented) for _, data in webhooks)
    timeline = await handle.query("timeline", result_type=list[m.TimelineEntry])
    assert [e.summary for e in timeline if e.type == "commitment.due"] == [
        "fällig: Begrünte Innenhöfe",
        "fällig: Sitzbänke am Platz",
    ]
    await support.cancel(handle)
    # the due timers are deterministic: the whole history replays
    replayer = Replayer(workflows=[ProcedureWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(await handle.fetch_history())
