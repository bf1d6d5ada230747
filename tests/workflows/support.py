"""Shared pieces of the workflow tests: catalogue definitions for the fake loader, starters."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.testing import WorkflowEnvironment

from activities import contracts as c
from activities.definitions_io import loaded_result
from definitions import loader
from tests.helpers import assert_eq_eventually
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow
from workflows.visibility import ALL_SEARCH_ATTRIBUTES


def catalogue_ids() -> list[str]:
    return sorted({d.definition.id for d in loader.list_definitions()})


def load_catalogue(definition_id: str) -> c.LoadDefinitionResult:
    """The definition exactly as the real `load_definition` activity returns it."""
    return loaded_result(loader.load_definition(definition_id))


def start_input(definition_id: str, **overrides: Any) -> dict[str, Any]:
    """A realistic start request as JSON (what the Web UI or an integrator sends)."""
    data: dict[str, Any] = {
        "definition_id": definition_id,
        "reference": f"test {uuid.uuid4().hex[:12]}",
        "title": "Bebauungsplan Mühlweg-Süd",
        "municipality": "08221000",  # Heidelberg
        "land": "BW",
    }
    data.update(overrides)
    return data


async def start(
    client: Client, task_queue: str, data: dict[str, Any], **kwargs: Any
) -> WorkflowHandle[ProcedureWorkflow, m.ProcedureResult]:
    wf_id = m.procedure_workflow_id(data["municipality"], data["reference"])
    return await client.start_workflow(
        ProcedureWorkflow.run, data, id=wf_id, task_queue=task_queue, **kwargs
    )


def statement(
    key: str, *, role: str = "public", kind: str = "objection", **kw: Any
) -> m.StatementInput:
    return m.StatementInput(
        idempotency_key=key, role=role, statement_type=kind, text=f"Stellungnahme {key}", **kw
    )


def d(text: str) -> date:
    return date.fromisoformat(text)


async def wait_phase(handle: WorkflowHandle[Any, Any], phase: str | None, rnd: int = 1) -> None:
    """Poll the status query until the procedure is in `phase` (and round)."""

    async def current() -> tuple[str | None, int]:
        status = await handle.query(ProcedureWorkflow.status)
        return status.phase_id, status.round

    await assert_eq_eventually((phase, rnd), current)


async def outcome(env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any]) -> Any:
    """The workflow's result, without letting the test server skip time while waiting.

    Awaiting a result normally unlocks time skipping, and the server then jumps to its next
    timer (years ahead); the shared session clock would drift towards the calendar's end.
    """
    with env.auto_time_skipping_disabled():
        return await handle.result()


async def cancel(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], role: str = "administration"
) -> None:
    """End a test procedure through its own admin update and wait for the result.

    (Terminating instead leaves the time-skipping server unable to skip time for the next
    test, so tests finish their procedures the way an administrator would.)
    """
    data = m.AdminCancelInput(idempotency_key="test-over", role=role, reason="test over")
    await handle.execute_update(ProcedureWorkflow.admin_cancel, data)
    result = await outcome(env, handle)
    assert result.state == "cancelled"


async def register_search_attributes(env: WorkflowEnvironment) -> None:
    """Declare civicflow's search attributes on a test server (a cluster needs them too)."""
    kinds = {
        SearchAttributeIndexedValueType.KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        SearchAttributeIndexedValueType.DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    }
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: kinds[key.indexed_value_type] for key in ALL_SEARCH_ATTRIBUTES
            },
        )
    )
