"""The intake helper against a real Temporal dev server, which enforces the update limits."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers import assert_eq_eventually, new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import load_catalogue, start, start_input, statement, wait_phase
from workflows import messages as m
from workflows.client import StatementSubmitter
from workflows.procedure import ProcedureWorkflow

pytestmark = pytest.mark.integration

SUBMITTERS = 4  # four integrators at once: 32 batches in flight against a limit of 10


async def test_many_submitters_all_counted_once(dev_env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    # announced twelve days ago: the announcement week is over, the publication is running
    announced = date.today() - timedelta(days=12)  # noqa: DTZ011 - real server, real clock
    data = start_input("baugb-3-2", announcement_date=announced.isoformat())
    client = dev_env.client
    async with new_worker(client, ProcedureWorkflow, activities=storage.activities()) as w:
        first = await start(client, w.task_queue, data)
        await wait_phase(first, "hearing")
        handle = client.get_workflow_handle_for(ProcedureWorkflow.run, first.id)
        submitters = [
            StatementSubmitter(handle, batch_size=25, max_in_flight=8) for _ in range(SUBMITTERS)
        ]
        per = 500
        results = await asyncio.gather(
            *(
                s.submit([statement(f"i{n}-{k}") for k in range(per)])
                for n, s in enumerate(submitters)
            )
        )
        assert all(not r.errors for r in results)
        assert sum(len(r.receipts) for r in results) == SUBMITTERS * per
        # the same statements again (an integrator retrying everything): the batches carry
        # the same update ids, so the server answers with the first results; nothing changes
        again = await submitters[0].submit([statement(f"i0-{k}") for k in range(per)])
        assert again == results[0]
        print("retries after RESOURCE_EXHAUSTED:", [s.retries for s in submitters])

        async def stored() -> int:
            counts = (await handle.query(ProcedureWorkflow.status)).counts
            return counts.get("statements", 0)

        await assert_eq_eventually(SUBMITTERS * per, stored)
        cancel = m.AdminCancelInput(idempotency_key="z", role="administration", reason="Ende")
        await handle.execute_update(ProcedureWorkflow.admin_cancel, cancel)
        assert (await handle.result()).state == "cancelled"
    assert len(storage.statements) == SUBMITTERS * per
