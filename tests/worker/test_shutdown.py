"""Graceful shutdown: polling stops, a running activity still completes and is recorded."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from tests.worker.probes import DrainProbe, DrainProbeWorkflow
from worker.config import load_settings
from worker.run import StartupError, build_worker, run_until_stopped

pytestmark = pytest.mark.integration


async def test_running_activity_completes_after_stop(dev_env: WorkflowEnvironment) -> None:
    settings = load_settings(task_queue=f"drain-{uuid.uuid4()}", shutdown_grace_seconds=60)
    probe = DrainProbe()
    worker = build_worker(
        dev_env.client,
        settings,
        workflows=[DrainProbeWorkflow],
        activities=[probe.finish_after_shutdown],
    )
    stop = asyncio.Event()
    running = asyncio.create_task(run_until_stopped(worker, stop))
    handle = await dev_env.client.start_workflow(
        DrainProbeWorkflow.run, id=f"drain-{uuid.uuid4()}", task_queue=settings.task_queue
    )
    await asyncio.wait_for(probe.started.wait(), timeout=60)
    stop.set()
    await asyncio.wait_for(running, timeout=90)  # returns normally: a clean drain

    history = await handle.fetch_history()
    completed = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    ]
    assert len(completed) == 1

    # A fresh worker (no activities needed) lets the workflow finish with that result.
    successor = build_worker(
        dev_env.client, settings, workflows=[DrainProbeWorkflow], activities=[]
    )
    async with successor:
        result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result == "finished after shutdown was requested"


async def test_worker_that_dies_reports_why(dev_env: WorkflowEnvironment) -> None:
    settings = load_settings(task_queue=f"dies-{uuid.uuid4()}")
    client = await type(dev_env.client).connect(
        dev_env.client.service_client.config.target_host,
        namespace="no-such-namespace",
    )
    worker = build_worker(client, settings, workflows=[DrainProbeWorkflow], activities=[])
    with pytest.raises(StartupError, match="no-such-namespace"):
        await asyncio.wait_for(run_until_stopped(worker, asyncio.Event()), timeout=60)
