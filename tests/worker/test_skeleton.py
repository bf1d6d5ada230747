"""The walking skeleton end to end: real dev server, real worker wiring, real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from temporalio.client import WorkflowFailureError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.skeleton import PingInput, SkeletonActivities
from tests.helpers import new_worker
from worker import registry
from worker.config import load_settings
from worker.run import build_worker
from worker.telemetry import Metrics, TelemetryInterceptor
from workflows.skeleton import SkeletonInput, SkeletonWorkflow

pytestmark = pytest.mark.integration


async def test_skeleton_writes_its_row_once(
    dev_env: WorkflowEnvironment, database_url: str, db_schema: str, db_pool: asyncpg.Pool
) -> None:
    settings = load_settings(
        task_queue=f"skeleton-{uuid.uuid4()}",
        database_url=database_url,
        database_schema=db_schema,
        metrics_port=0,
    )
    metrics = Metrics(CollectorRegistry())
    deps = registry.ActivityDeps(pool=db_pool, metrics=metrics, settings=settings)
    worker = build_worker(
        dev_env.client,
        settings,
        workflows=registry.WORKFLOWS,
        activities=registry.build_activities(deps),
        interceptors=[TelemetryInterceptor(metrics)],
    )
    workflow_id = f"skeleton-{uuid.uuid4()}"
    async with worker:
        row_id = await dev_env.client.execute_workflow(
            SkeletonWorkflow.run,
            SkeletonInput(message="hallo Rathaus"),
            id=workflow_id,
            task_queue=settings.task_queue,
        )
    assert row_id == f"{workflow_id}/ping"
    rows = await db_pool.fetch(
        "SELECT ping_id, message FROM skeleton_pings WHERE workflow_id = $1", workflow_id
    )
    assert [(r["ping_id"], r["message"]) for r in rows] == [(row_id, "hallo Rathaus")]


async def test_record_ping_is_idempotent(db_pool: asyncpg.Pool) -> None:
    activities = SkeletonActivities(db_pool)
    ping = PingInput(ping_id="wf-x/ping", workflow_id="wf-x", message="first")
    retried = PingInput(ping_id="wf-x/ping", workflow_id="wf-x", message="retried attempt")
    env = ActivityEnvironment()
    first = await env.run(activities.record_ping, ping)
    second = await env.run(activities.record_ping, retried)
    assert first == second == "wf-x/ping"
    rows = await db_pool.fetch("SELECT message FROM skeleton_pings WHERE ping_id = 'wf-x/ping'")
    assert [r["message"] for r in rows] == ["first"]


def test_registry_lists_skeleton() -> None:
    assert SkeletonWorkflow in registry.WORKFLOWS
    names = [
        fn.__temporal_activity_definition.name  # type: ignore[attr-defined]
        for fn in registry.activity_methods(SkeletonActivities.__new__(SkeletonActivities))
    ]
    assert names == ["record_ping"]


async def test_invalid_input_fails_the_run_at_once(dev_env: WorkflowEnvironment) -> None:
    task_queue = f"skeleton-bad-{uuid.uuid4()}"
    worker = new_worker(dev_env.client, SkeletonWorkflow, task_queue=task_queue)
    async with worker:
        handle = await dev_env.client.start_workflow(
            "Skeleton", {"message": ""}, id=f"bad-{uuid.uuid4()}", task_queue=task_queue
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await asyncio.wait_for(handle.result(), timeout=60)
    assert "message" in str(caught.value.cause)
    assert "at least 1 character" in str(caught.value.cause)
