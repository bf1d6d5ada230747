"""Bad input through a Temporal SDK (Python here; the same holds for any SDK sending JSON)."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from tests.interfaces import support
from tests.interfaces.conftest import Stack
from workflows import messages as m
from workflows.errors import Code

pytestmark = pytest.mark.integration

STATEMENT = {"idempotency_key": "k", "role": "public", "statement_type": "objection", "text": "x"}


async def test_bad_updates_are_refused_and_the_procedure_keeps_running(stack: Stack) -> None:
    handle = await support.start(stack.client, stack.task_queue, support.fresh())
    await support.wait_phase(handle, "announcement")

    async def refused(payload: Any, code: Code) -> str:
        with pytest.raises(WorkflowUpdateFailedError) as caught:
            await handle.execute_update("submit_statement", payload, result_type=m.Receipt)
        cause = caught.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.type == code
        assert cause.non_retryable
        return cause.message

    assert await refused("{not json", Code.INVALID_PAYLOAD) == (
        "INVALID_PAYLOAD: StatementInput: input: "
        "Input should be a valid dictionary or instance of StatementInput"
    )
    assert await refused({**STATEMENT, "text": 5}, Code.INVALID_PAYLOAD) == (
        "INVALID_PAYLOAD: StatementInput: text: Input should be a valid string"
    )
    assert await refused({**STATEMENT, "colour": "red"}, Code.UNKNOWN_FIELD) == (
        "UNKNOWN_FIELD: StatementInput: colour: Extra inputs are not permitted"
    )
    assert await refused(STATEMENT, Code.PHASE_DOES_NOT_ACCEPT) == (
        "PHASE_DOES_NOT_ACCEPT: phase 'announcement' (invitation) does not accept statements yet"
    )
    with pytest.raises(RPCError) as missing:
        await stack.client.get_workflow_handle("procedure-00000000-none").execute_update(
            "submit_statement", STATEMENT
        )
    assert missing.value.status == RPCStatusCode.NOT_FOUND
    with pytest.raises(RPCError) as big:
        await handle.execute_update("submit_statement", {**STATEMENT, "text": "x" * 5_000_000})
    assert big.value.status in (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.INVALID_ARGUMENT)

    assert (await support.status(handle)).state == "running"
    await support.advance(handle, "hearing")
    receipt = await handle.execute_update(
        "submit_statement", STATEMENT, result_type=m.StatementReceipt
    )
    assert receipt.phase_id == "hearing"
    assert await refused(STATEMENT, Code.DUPLICATE_IDEMPOTENCY_KEY) == (
        "DUPLICATE_IDEMPOTENCY_KEY: "
        "idempotency_key 'k': a statement with this key was already received"
    )
    # a signal with a repeated key or a bad payload changes nothing and is not an error
    await handle.signal("post_statement", STATEMENT)
    await handle.signal("post_statement", {"idempotency_key": "bad", "text": 5})
    st = await support.status(handle)
    assert st.state == "running"
    await support.cancel(handle)


async def test_bad_start_input_fails_the_run_at_once_naming_the_field(stack: Stack) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"municipality": "Heidelberg"}, "municipality: String should match pattern"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"definition_id": "no-such-procedure"}, "definition_id"),
        ({"parameters": {"hearing_period": 5}}, "hearing_period"),
    ]
    for overrides, message in cases:
        data = support.fresh(**overrides)
        wf_id = f"procedure-08221000-{data['reference'].lower().replace(' ', '-')}"
        handle = await stack.client.start_workflow(
            "Procedure", data, id=wf_id, task_queue=stack.task_queue
        )
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
        cause = caught.value.cause
        assert isinstance(cause, ApplicationError)
        assert cause.non_retryable
        assert message in cause.message, cause.message
