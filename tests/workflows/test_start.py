"""Bad start input fails the run at once (non-retryable, naming the field); ids are unique."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from tests.helpers import new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import cancel, load_catalogue, outcome, start, start_input, wait_phase
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"land": "XX"}, "land: Input should be"),
        ({"municipality": "Heidelberg"}, "municipality: String should match pattern"),
        ({"title": None}, "title: Input should be a valid string"),
        ({"definition_id": "no-such-procedure"}, "definition_id: no definition no-such-procedure"),
        (
            {"parameters": {"hearing_period": "1 month"}},
            "parameters: hearing_period: expected ISO-8601 duration",
        ),
        ({"parameters": {"colour": "red"}}, "unknown parameter 'colour'"),
        ({"limits": {"max_batch": 0}}, "limits.max_batch"),
    ],
)
async def test_bad_input_fails_at_once(
    env: WorkflowEnvironment, change: dict[str, Any], expected: str
) -> None:
    storage = FakeStorage()
    data = {**start_input("baugb-3-2"), **change}
    activities = storage.activities(real_loader=True)
    async with new_worker(env.client, ProcedureWorkflow, activities=activities) as w:
        wf_id = m.procedure_workflow_id("08221000", data["reference"])
        handle = await env.client.start_workflow(
            "Procedure", data, id=wf_id, task_queue=w.task_queue
        )
        with pytest.raises(WorkflowFailureError) as info:
            await outcome(env, handle)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.non_retryable
    assert expected in cause.message, cause.message


async def test_not_even_a_mapping(env: WorkflowEnvironment) -> None:
    async with new_worker(env.client, ProcedureWorkflow) as w:
        handle = await env.client.start_workflow(
            "Procedure", ["a", "list"], id="procedure-x-y", task_queue=w.task_queue
        )
        with pytest.raises(WorkflowFailureError) as info:
            await outcome(env, handle)
    assert isinstance(info.value.cause, ApplicationError)
    assert "StartProcedure" in info.value.cause.message


async def test_workflow_id_must_derive_from_reference(env: WorkflowEnvironment) -> None:
    async with new_worker(env.client, ProcedureWorkflow) as w:
        handle = await env.client.start_workflow(
            "Procedure", start_input("baugb-3-2"), id="my-own-id", task_queue=w.task_queue
        )
        with pytest.raises(WorkflowFailureError) as info:
            await outcome(env, handle)
    assert isinstance(info.value.cause, ApplicationError)
    assert "workflow_id: expected 'procedure-08221000-test-" in info.value.cause.message


async def test_same_procedure_twice_is_refused(env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    data = start_input("baugb-3-2")
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, data)
        await wait_phase(handle, "announcement")
        with pytest.raises(WorkflowAlreadyStartedError):
            await start(env.client, w.task_queue, data)
        status = await handle.query(ProcedureWorkflow.status)
        assert status.definition_hash == load_catalogue("baugb-3-2").content_hash
        await cancel(env, handle)
    assert storage.load_calls == 1


async def test_a_start_takes_two_activity_round_trips_before_its_first_phase(
    env: WorkflowEnvironment,
) -> None:
    """The definition is read as a local activity and the procedure's row is written with
    `procedure.started`: only `record_procedure` and the phase's `append_events` go through
    the task queue (start throughput, issue 8)."""
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input("baugb-3-2"))
        await wait_phase(handle, "announcement")
        await cancel(env, handle)
        history = await handle.fetch_history()
        timeline = await handle.query(ProcedureWorkflow.timeline)
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled[:2] == ["record_procedure", "append_events"]
    markers = [
        e.marker_recorded_event_attributes.marker_name
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    assert "core_local_activity" in markers
    assert [storage.events[i].type for i in storage.event_order[:2]] == [
        "procedure.started",
        "phase.changed",
    ]
    assert [t.type for t in timeline[:2]] == ["procedure.started", "phase.changed"]
    assert storage.load_calls == 1
