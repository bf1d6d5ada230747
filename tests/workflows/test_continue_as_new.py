"""Continue-as-new under 20,000 statements in one hearing: counted once, queries correct.

Limits are lowered through the start input so a few runs happen with 100 batch updates;
the production defaults (1,800 updates, 9,000 signals per run, the server's suggestion)
trigger the same code path.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from tests.helpers import assert_eq_eventually, new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import (
    cancel,
    load_catalogue,
    start,
    start_input,
    statement,
    wait_phase,
)
from workflows import messages as m
from workflows.client import retryable
from workflows.procedure import ProcedureWorkflow

TOTAL = 20_000
BATCH = 200
IN_FLIGHT = 5  # concurrent submitters, below Temporal's 10 in-flight updates


async def test_twenty_thousand_statements_across_runs(env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    limits = {"max_batch": BATCH, "max_updates_per_run": 30, "retained_statements": 500}
    data = start_input("baugb-3-2", limits=limits)
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        first = await start(env.client, w.task_queue, data)
        await env.sleep(timedelta(days=9))
        await wait_phase(first, "hearing")
        # No run id: updates and queries follow the procedure into each new run.
        handle = env.client.get_workflow_handle_for(ProcedureWorkflow.run, first.id)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for start_index in range(0, TOTAL, BATCH):
            queue.put_nowait(start_index)
        receipts: list[m.StatementReceipt] = []

        async def submitter() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                batch = m.SubmitStatementsInput(
                    statements=[statement(f"s{n}") for n in range(i, i + BATCH)]
                )
                while True:  # a run draining for continue-as-new refuses, retryably
                    try:
                        out = await handle.execute_update(
                            ProcedureWorkflow.submit_statements, batch
                        )
                        break
                    except WorkflowUpdateFailedError as err:
                        if not retryable(err):
                            raise
                        await asyncio.sleep(0.05)
                assert not out.errors, out.errors[:3]
                receipts.extend(out.receipts)

        await asyncio.gather(*(submitter() for _ in range(IN_FLIGHT)))
        assert len(receipts) == TOTAL
        assert not any(r.duplicate for r in receipts)
        assert len({r.id for r in receipts}) == TOTAL

        async def stored() -> tuple[int, int]:
            counts = (await handle.query(ProcedureWorkflow.status)).counts
            return counts["statements"], counts["pending"]

        # receipts come back once a statement is in the history; storage follows at once
        await assert_eq_eventually((TOTAL, 0), stored)
        status = await handle.query(ProcedureWorkflow.status)
        assert status.run >= 3, status.run  # 100 updates, at most 30 per run
        assert status.phase_id == "hearing"
        assert status.counts["statements"] == TOTAL
        assert status.counts.get("duplicates", 0) == 0

        # resubmitting keys of an earlier run: the new run does not know them, storage does
        again = await handle.execute_update(
            ProcedureWorkflow.submit_statements,
            m.SubmitStatementsInput(statements=[statement("s0"), statement("s1"), statement("n")]),
        )
        assert [r.duplicate for r in again.receipts] == [True, True, False]
        status = await handle.query(ProcedureWorkflow.status)
        assert status.counts["statements"] == TOTAL + 1
        assert status.counts["duplicates"] == 2

        page = await handle.query(ProcedureWorkflow.statements, args=[0, 100])
        assert page.total == TOTAL + 1
        assert page.oldest_retained == TOTAL - 498  # 499 of the first run, then "n"
        assert len(page.items) == 100
        assert page.next_after == page.items[-1].sequence
        last = await handle.query(ProcedureWorkflow.statements, args=[TOTAL + 2, 100])
        assert [s.statement_id for s in last.items] == [again.receipts[2].id]
        assert last.next_after is None
        await cancel(env, handle)
    assert len(storage.statements) == TOTAL + 1
    received = [e for e in storage.event_types() if e == "statement.received"]
    assert len(received) == TOTAL + 1
