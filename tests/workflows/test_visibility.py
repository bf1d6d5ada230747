"""Search attributes and the Web UI details follow the procedure (never personal data)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from definitions import calendar
from tests.helpers import assert_eq_eventually, new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import cancel, load_catalogue, start, start_input, wait_phase
from workflows import messages as m
from workflows import visibility as v
from workflows.procedure import ProcedureWorkflow


async def test_search_attributes_and_details(env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input("baugb-3-2"))
        await env.sleep(timedelta(days=9))
        await wait_phase(handle, "hearing")

        async def attributes() -> tuple[str | None, ...]:
            sa = (await handle.describe()).typed_search_attributes
            return (
                sa.get(v.PROCEDURE_KIND),
                sa.get(v.MUNICIPALITY),
                sa.get(v.PHASE),
                sa.get(v.PROCEDURE_STATE),
            )

        running: tuple[str | None, ...] = ("bauleitplanung", "08221000", "hearing", "running")
        await assert_eq_eventually(running, attributes)
        status = await handle.query(ProcedureWorkflow.status)
        assert status.phase_ends is not None
        described = await handle.describe()
        deadline = described.typed_search_attributes.get(v.NEXT_DEADLINE)
        assert deadline == calendar.deadline_instant(status.phase_ends)
        pause = m.AdminPauseInput(idempotency_key="p", role="administration", reason="Störung")
        await handle.execute_update(ProcedureWorkflow.admin_pause, pause)
        paused: tuple[str | None, ...] = ("bauleitplanung", "08221000", "hearing", "paused")
        await assert_eq_eventually(paused, attributes)
        details = await handle.query("__temporal_workflow_metadata")
        text = details.current_details
        assert "**Phase**: hearing (round 1)" in text
        assert "**State**: paused" in text
        resume = m.AdminResumeInput(idempotency_key="r", role="administration")
        await handle.execute_update(ProcedureWorkflow.admin_resume, resume)
        await cancel(env, handle)
