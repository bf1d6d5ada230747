"""Worker restarts, storage outages and fire-and-forget signals lose nothing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers import assert_eq_eventually, new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import (
    cancel,
    load_catalogue,
    outcome,
    start,
    start_input,
    statement,
    wait_phase,
)
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow


async def test_worker_restart_mid_hearing_resumes(env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    queue = f"tq-{uuid.uuid4()}"
    activities = storage.activities()
    # No sticky cache: the test server never hands a dead worker's sticky tasks back to the
    # shared queue, a real cluster does after the sticky timeout.
    async with new_worker(
        env.client,
        ProcedureWorkflow,
        activities=activities,
        task_queue=queue,
        max_cached_workflows=0,
    ):
        handle = await start(env.client, queue, start_input("baugb-3-2"))
        await env.sleep(timedelta(days=9))
        await wait_phase(handle, "hearing")
        batch = m.SubmitStatementsInput(statements=[statement(f"a{i}") for i in range(50)])
        await handle.execute_update(ProcedureWorkflow.submit_statements, batch)
    # The first worker is gone (its cache with it). A new process, no cached workflows at all:
    # every task replays the history from the start.
    storage.fail_next_store_statements = 2  # and the database hiccups twice
    storage.lose_next_reply = 1  # and once commits but the reply is lost
    async with new_worker(
        env.client,
        ProcedureWorkflow,
        activities=activities,
        task_queue=queue,
        max_cached_workflows=0,
    ):
        more = m.SubmitStatementsInput(statements=[statement(f"b{i}") for i in range(50)])
        out = await handle.execute_update(ProcedureWorkflow.submit_statements, more)
        assert len(out.receipts) == 50
        assert out.receipts[0].round == 1
        assert storage.fail_next_store_statements == 0  # the outage was retried through
        assert storage.lose_next_reply == 0
        assert not any(r.duplicate for r in out.receipts)  # the retry saw its own rows
        await env.sleep(timedelta(days=40))
        await wait_phase(handle, "weighing")
        status = await handle.query(ProcedureWorkflow.status)
        assert status.counts["statements"] == 100
        await cancel(env, handle)
    assert len(storage.statements) == 100
    assert storage.event_types().count("procedure.started") == 1


async def test_signals_are_idempotent_and_rejections_recorded(env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input("baugb-3-2"))
        await env.sleep(timedelta(days=9))
        await wait_phase(handle, "hearing")
        good = statement("sig-1").model_dump(mode="json")
        await handle.signal(ProcedureWorkflow.post_statement, good)
        await handle.signal(ProcedureWorkflow.post_statement, good)  # a repeat
        await handle.signal(ProcedureWorkflow.post_statement, {"idempotency_key": "bad"})
        await handle.signal(ProcedureWorkflow.post_statement, "not even an object")

        async def counts() -> tuple[int, int]:
            c = (await handle.query(ProcedureWorkflow.status)).counts
            return c.get("statements", 0), c.get("rejected_signals", 0)

        await assert_eq_eventually((1, 2), counts)
        data = m.AdminCancelInput(idempotency_key="z", role="administration", reason="Ende")
        await handle.execute_update(ProcedureWorkflow.admin_cancel, data)
        assert (await outcome(env, handle)).state == "cancelled"
    received = [storage.events[e] for e in storage.event_order]
    receipts = [e for e in received if e.type == "statement.received"]
    assert [e.payload["idempotency_key"] for e in receipts] == ["sig-1"]
    assert receipts[0].payload["via"] == "signal"
    rejected = [e.payload for e in received if e.type == "statement.rejected"]
    assert rejected[0]["idempotency_key"] == "bad"
    assert "role: Field required" in rejected[0]["problem"]
    assert rejected[1]["idempotency_key"] == "None"


async def test_paused_phase_ends_only_after_resume(env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input("baugb-3-2"))
        await env.sleep(timedelta(days=9))
        await wait_phase(handle, "hearing")
        pause = m.AdminPauseInput(idempotency_key="p", role="administration", reason="Klage")
        await handle.execute_update(ProcedureWorkflow.admin_pause, pause)
        await env.sleep(timedelta(days=60))  # the deadline passes while paused
        status = await handle.query(ProcedureWorkflow.status)
        assert (status.state, status.phase_id) == ("paused", "hearing")
        resume = m.AdminResumeInput(idempotency_key="r", role="administration")
        await handle.execute_update(ProcedureWorkflow.admin_resume, resume)
        await wait_phase(handle, "weighing")
        await cancel(env, handle)
    types = storage.event_types()
    assert types.index("procedure.resume") < types.index("hearing.closed")


@pytest.mark.integration
async def test_worker_restart_on_a_real_server(dev_env: WorkflowEnvironment) -> None:
    """The same with sticky caches on a real dev server: the new worker takes over."""
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    announced = date.today() - timedelta(days=12)  # noqa: DTZ011 - real server, real clock
    data = start_input("baugb-3-2", announcement_date=announced.isoformat())
    queue = f"tq-{uuid.uuid4()}"
    client = dev_env.client
    sticky = timedelta(seconds=1)  # hand the dead worker's tasks to the shared queue soon
    activities = storage.activities()
    async with new_worker(
        client,
        ProcedureWorkflow,
        activities=activities,
        task_queue=queue,
        sticky_queue_schedule_to_start_timeout=sticky,
    ):
        handle = await start(client, queue, data)
        await wait_phase(handle, "hearing")
        batch = m.SubmitStatementsInput(statements=[statement(f"a{i}") for i in range(20)])
        await handle.execute_update(ProcedureWorkflow.submit_statements, batch)
    async with new_worker(client, ProcedureWorkflow, activities=activities, task_queue=queue):
        more = m.SubmitStatementsInput(statements=[statement(f"b{i}") for i in range(20)])
        out = await handle.execute_update(ProcedureWorkflow.submit_statements, more)
        assert len(out.receipts) == 20
        status = await handle.query(ProcedureWorkflow.status)
        assert (status.phase_id, status.counts["statements"]) == ("hearing", 40)
        data_cancel = m.AdminCancelInput(idempotency_key="z", role="administration", reason="Ende")
        await handle.execute_update(ProcedureWorkflow.admin_cancel, data_cancel)
        assert (await handle.result()).state == "cancelled"
    assert len(storage.statements) == 40
