"""BauGB §3(2) end to end: announcement, publication, weighing, §4a(3) second round, decision."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from tests.helpers import new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import (
    load_catalogue,
    outcome,
    start,
    start_input,
    statement,
    wait_phase,
)
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow


async def test_two_rounds_then_decision(env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input("baugb-3-2"))
        await wait_phase(handle, "announcement")
        await env.sleep(timedelta(days=9))
        await wait_phase(handle, "hearing")
        receipt = await handle.execute_update(ProcedureWorkflow.submit_statement, statement("k1"))
        assert receipt.phase_id == "hearing"
        assert receipt.round == 1
        assert not receipt.late
        batch = await handle.execute_update(
            ProcedureWorkflow.submit_statements,
            m.SubmitStatementsInput(statements=[statement(f"b{i}") for i in range(5)]),
        )
        assert len(batch.receipts) == 5
        assert not batch.errors
        await env.sleep(timedelta(days=40))
        await wait_phase(handle, "weighing")
        status = await handle.query(ProcedureWorkflow.status)
        assert status.counts["statements"] == 6
        late = await handle.execute_update(ProcedureWorkflow.submit_statement, statement("late"))
        assert late.late
        assert late.phase_id == "hearing"
        await handle.execute_update(
            ProcedureWorkflow.record_decision,
            m.RecordDecisionInput(
                idempotency_key="d1",
                role="administration",
                outcome="draft_changed",
                title="Entwurf geändert",
                ends_phase=True,
            ),
        )
        await wait_phase(handle, "hearing", 2)
        status = await handle.query(ProcedureWorkflow.status)
        assert status.limited_to == "affected"  # §4a(3): only those affected by the change
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(ProcedureWorkflow.submit_statement, statement("p2"))
        second = await handle.execute_update(
            ProcedureWorkflow.submit_statement, statement("a2", role="affected")
        )
        assert (second.round, second.late) == (2, False)
        await env.sleep(timedelta(days=20))
        await wait_phase(handle, "weighing", 2)
        await handle.execute_update(
            ProcedureWorkflow.record_decision,
            m.RecordDecisionInput(
                idempotency_key="d2",
                role="administration",
                outcome="draft_unchanged",
                title="Abwägung abgeschlossen",
                ends_phase=True,
            ),
        )
        await wait_phase(handle, "decision", 2)
        await handle.execute_update(
            ProcedureWorkflow.admin_advance,
            m.AdminAdvanceInput(idempotency_key="a1", role="council", reason="Satzungsbeschluss"),
        )
        result = await outcome(env, handle)
        assert result.state == "completed"
        assert result.counts["statements"] == 8
        assert result.counts["late"] == 1
    assert len(storage.statements) == 8
    rounds = sorted(r.round for r in storage.statements.values())
    assert rounds == [1] * 7 + [2]
    types = storage.event_types()
    assert types[0] == "procedure.started"
    assert types.count("phase.changed") == 6
    assert types[-1] == "procedure.completed"
