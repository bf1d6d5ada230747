"""A `record_decision` with `ends_phase` acknowledged before its phase was entered ends it.

Sent with the start (update-with-start, real Temporal dev server: the time-skipping server
has no update-with-start), the decision is validated against the first phase while the
definition is still being recorded; entering the phase used to reset the visit's decision
and advance, so the receipt named a phase that then never ended (patch
`decision-before-entry`, like `advance-before-entry` for `admin_advance`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

import activities.contracts as c
from tests.helpers import new_worker
from tests.histories.test_replay import patches
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import cancel, load_catalogue, start_input, wait_phase
from workflows import messages as m
from workflows.participation import PATCH_DECISION_BEFORE_ENTRY
from workflows.procedure import ProcedureWorkflow

DEFINITION = "baugb-4-2"  # first phase `request` ends by a moderator decision
FALLBACK = 2.0  # seconds the start waits for the decision's event before it goes on anyway


def decision_first(storage: FakeStorage) -> list[Callable[..., Any]]:
    """Storage activities where recording the procedure waits for the decision's event, so
    the decision's handler finishes before the phase is entered (the window of the bug).
    The engine with the patch holds the decision until entry: then the start goes on after
    `FALLBACK` seconds (whatever the machine's speed, the test checks the same outcome)."""
    stored, logged = asyncio.Event(), asyncio.Event()

    @activity.defn(name=c.STORE_DECISION)
    async def store_decision(data: c.StoreDecisionInput) -> c.StoreResult:
        result = await storage.store_decision(data)
        stored.set()
        return result

    @activity.defn(name=c.APPEND_EVENTS)
    async def append_events(data: c.AppendEventsInput) -> c.AppendEventsResult:
        result = await storage.append_events(data)
        if any(e.type == "decision.recorded" for e in data.events):
            logged.set()
        return result

    @activity.defn(name=c.RECORD_PROCEDURE)
    async def record_procedure(data: c.RecordProcedureInput) -> c.StoreResult:
        await stored.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(logged.wait(), FALLBACK)
        return await storage.record_procedure(data)

    replaced = {c.STORE_DECISION, c.APPEND_EVENTS, c.RECORD_PROCEDURE}
    kept = [
        a
        for a in storage.activities()
        if getattr(a, "__temporal_activity_definition").name not in replaced
    ]
    return [*kept, store_decision, append_events, record_procedure]


async def test_a_decision_sent_with_the_start_ends_its_phase(
    dev_env: WorkflowEnvironment, tmp_path: Any
) -> None:
    storage = FakeStorage({DEFINITION: load_catalogue(DEFINITION)})
    data = start_input(DEFINITION)
    decision = {
        "idempotency_key": "d1",
        "role": "administration",
        "outcome": "requests_sent",
        "title": "Anschreiben versandt",
        "ends_phase": True,
    }
    async with new_worker(
        dev_env.client, ProcedureWorkflow, activities=decision_first(storage)
    ) as worker:
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            "Procedure",
            data,
            id=m.procedure_workflow_id(data["municipality"], data["reference"]),
            task_queue=worker.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        receipt = await dev_env.client.execute_update_with_start_workflow(
            "record_decision", decision, start_workflow_operation=start, result_type=m.Receipt
        )
        assert (receipt.phase_id, receipt.round) == ("request", 1)
        untyped = await start.workflow_handle()
        handle = dev_env.client.get_workflow_handle_for(ProcedureWorkflow.run, untyped.id)
        await wait_phase(handle, "statements")  # the decision ended `request`
        status = await handle.query(ProcedureWorkflow.status)
        assert status.counts["decisions"] == 1
        types = storage.event_types()
        assert types.index("decision.recorded") < types.index("phase.ended")
        ended = [
            storage.events[i]
            for i in storage.event_order
            if storage.events[i].type == "phase.ended"
        ]
        assert ended[0].payload["reason"] == "moderator_decision"
        await cancel(dev_env, handle)
        history = await handle.fetch_history()
    path = tmp_path / "history.json"
    path.write_text(history.to_json(), encoding="utf-8")
    assert PATCH_DECISION_BEFORE_ENTRY in patches(path)
    replayer = Replayer(workflows=[ProcedureWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
