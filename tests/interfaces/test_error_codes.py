"""The error codes that need a procedure in a particular state, through SDK, CLI and HTTP.

Each test drives a real procedure (real worker, storage and dev server) into the state in
which the code is returned, checks that the SDK, the `temporal` CLI and the HTTP API refuse
the update with the same code and a message naming the field and what was expected, and then
that the procedure goes on: nothing was changed by the refusals and the next valid update
is taken.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError

from tests.interfaces import support
from tests.interfaces.conftest import Stack
from tests.interfaces.refusals import refused_everywhere
from workflows import messages as m
from workflows.errors import Code

pytestmark = pytest.mark.integration

ADMIN = {"role": "administration"}


def today() -> date:
    """The procedure's calendar day (Europe/Berlin), not the machine's."""
    return datetime.now(tz=ZoneInfo("Europe/Berlin")).date()


async def _quartier_in_review(stack: Stack) -> tuple[Any, str]:
    """A Quartiersdialog in its yearly review, with one commitment (its id returned)."""
    handle = await support.start(stack.client, stack.task_queue, support.fresh("quartiersdialog"))
    await support.wait_phase(handle, "kickoff")
    for phase in ("ideas", "workshops", "commitments"):
        await support.advance(handle, phase)
    receipt = await handle.execute_update(
        "add_commitment",
        {
            "idempotency_key": "c1",
            "role": "administration",
            "owner_role": "business",
            "owner_organisation": "Wohnbau Weststadt eG",
            "title": "Begrünte Innenhöfe",
            "measurable_aim": "12 Innenhöfe entsiegelt",
            "due_date": (today() + timedelta(days=300)).isoformat(),
        },
        result_type=m.Receipt,
    )
    await support.advance(handle, "yearly_review")
    return handle, receipt.id


async def test_unknown_commitment(stack: Stack) -> None:
    handle, commitment_id = await _quartier_in_review(stack)
    report = {
        "idempotency_key": "r1",
        "role": "business",
        "status": "in_progress",
        "progress_percent": 40,
    }
    message = await refused_everywhere(
        stack,
        handle,
        "report_progress",
        {**report, "commitment_id": "no-such-commitment"},
        Code.UNKNOWN_COMMITMENT,
    )
    assert message == "UNKNOWN_COMMITMENT: commitment_id 'no-such-commitment': no such commitment"

    # nothing changed, and the same report for the real commitment is taken (same key)
    before = await support.status(handle)
    assert before.state == "running"
    assert before.phase_id == "yearly_review"
    assert "progress_reports" not in before.counts
    await handle.execute_update(
        "report_progress", {**report, "commitment_id": commitment_id}, result_type=m.Receipt
    )
    commitments = await handle.query("commitments", result_type=list[m.CommitmentView])
    assert [(c.commitment_id, c.status, c.progress_percent) for c in commitments] == [
        (commitment_id, "in_progress", 40)
    ]
    await support.cancel(handle)


async def test_invalid_outcome(stack: Stack) -> None:
    handle, _ = await _quartier_in_review(stack)
    decision = {"idempotency_key": "d1", "role": "council", "title": "Konzept"}
    message = await refused_everywhere(
        stack,
        handle,
        "record_decision",
        {**decision, "outcome": "abolish_concept"},
        Code.INVALID_OUTCOME,
    )
    assert message == (
        "INVALID_OUTCOME: outcome 'abolish_concept': "
        "expected one of draft_changed, draft_unchanged, update_concept"
    )
    assert "decisions" not in (await support.status(handle)).counts
    # a listed outcome with the same key is taken, and its transition runs: back to workshops
    visits = (await support.status(handle)).visits
    await handle.execute_update(
        "record_decision", {**decision, "outcome": "update_concept"}, result_type=m.Receipt
    )
    await support.advance(handle, "workshops")
    st = await support.status(handle)
    assert (st.round, st.counts["decisions"], st.visits) == (2, 1, visits + 1)
    await support.cancel(handle)


async def test_deadline_not_extendable(stack: Stack) -> None:
    handle = await support.start(stack.client, stack.task_queue, support.fresh("baugb-3-1"))
    await support.wait_phase(handle, "announcement")
    await support.advance(handle, "participation")
    await support.advance(handle, "evaluation")  # ends by a moderator decision, no period
    extend = {**ADMIN, "idempotency_key": "e1", "reason": "Ferien"}
    message = await refused_everywhere(
        stack,
        handle,
        "admin_extend_deadline",
        {**extend, "new_end": (today() + timedelta(days=30)).isoformat()},
        Code.DEADLINE_NOT_EXTENDABLE,
    )
    assert message == "DEADLINE_NOT_EXTENDABLE: phase 'evaluation' has no deadline to extend"
    st = await support.status(handle)
    assert (st.state, st.phase_id, st.phase_ends, st.next_deadline) == (
        "running",
        "evaluation",
        None,
        None,
    )
    # the refused key was not used up: the administrator's advance may take it
    await handle.execute_update(
        "admin_advance",
        {**ADMIN, "idempotency_key": "e1", "reason": "fertig"},
        result_type=m.Receipt,
    )
    result = await handle.result()
    assert (result["state"], result["reason"]) == ("completed", "ended after evaluation")


async def test_procedure_ended(stack: Stack) -> None:
    """An update that reaches a cancelled procedure before its run has closed.

    The window is short (the procedure writes its last audit events and closes), so the test
    holds it open for real: it locks the procedure's audit chain head in PostgreSQL, as a
    slow concurrent writer would, so the cancel's own audit write waits.
    """
    handle = await support.start(stack.client, stack.task_queue, support.fresh("baugb-3-1"))
    await support.wait_phase(handle, "announcement")
    await support.advance(handle, "participation")
    statement = {"role": "public", "statement_type": "suggestion", "text": "Mehr Bäume"}
    await handle.execute_update(
        "submit_statement", {**statement, "idempotency_key": "s1"}, result_type=m.StatementReceipt
    )
    async with stack.pool.acquire() as conn:
        lock = conn.transaction()
        await lock.start()
        try:
            await conn.execute(
                "SELECT 1 FROM audit_heads WHERE procedure_id = $1 FOR UPDATE", handle.id
            )
            cancel = await handle.start_update(
                "admin_cancel",
                {**ADMIN, "idempotency_key": "stop", "reason": "Verfahren eingestellt"},
                wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                result_type=m.Receipt,
            )
            statement_refused = await refused_everywhere(
                stack,
                handle,
                "submit_statement",
                {**statement, "idempotency_key": "s2"},
                Code.PROCEDURE_ENDED,
            )
            assert statement_refused == (
                "PROCEDURE_ENDED: the procedure is cancelled; it accepts nothing any more"
            )
            pause_refused = await refused_everywhere(
                stack,
                handle,
                "admin_pause",
                {**ADMIN, "idempotency_key": "p1", "reason": "zu spät"},
                Code.PROCEDURE_ENDED,
            )
            assert pause_refused == "PROCEDURE_ENDED: the procedure is cancelled; cannot pause"
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        finally:
            await lock.rollback()
    # nothing is lost: the cancel completes, the run ends cancelled with the one statement
    assert (await cancel.result()).idempotency_key == "stop"
    result = await handle.result()
    assert (result["state"], result["reason"]) == ("cancelled", "Verfahren eingestellt")
    assert result["counts"]["statements"] == 1
    types = [
        row["event_type"]
        for row in await stack.pool.fetch(
            "SELECT event_type FROM events WHERE procedure_id = $1 ORDER BY seq", handle.id
        )
    ]
    assert types.count("statement.received") == 1
    assert types[-2:] == ["procedure.cancel", "procedure.cancelled"]


async def test_an_update_sent_with_the_start_waits_instead_of_procedure_not_ready(
    stack: Stack,
) -> None:
    """An update in the very first workflow task (sent with the start, before the
    definition is loaded) is held until the procedure is ready, not refused."""
    data = support.fresh("baugb-3-1")
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        "Procedure",
        data,
        id=m.procedure_workflow_id(data["municipality"], data["reference"]),
        task_queue=stack.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    receipt = await stack.client.execute_update_with_start_workflow(
        "admin_advance",
        {**ADMIN, "idempotency_key": "a1", "reason": "Bekanntmachung erfolgt"},
        start_workflow_operation=start,
        result_type=m.Receipt,
    )
    assert (receipt.phase_id, receipt.round) == ("announcement", 1)
    handle = await start.workflow_handle()
    await support.wait_phase(handle, "participation")
    # the same advance again (a double click in the Web UI) is refused by its key
    again = await refused_everywhere(
        stack,
        handle,
        "admin_advance",
        {**ADMIN, "idempotency_key": "a1", "reason": "Bekanntmachung erfolgt"},
        Code.DUPLICATE_IDEMPOTENCY_KEY,
    )
    assert again == (
        "DUPLICATE_IDEMPOTENCY_KEY: "
        "idempotency_key 'a1': an administrator's update with this key was already received"
    )
    assert (await support.status(handle)).phase_id == "participation"
    await support.cancel(handle)


async def test_procedure_not_ready_when_the_start_fails(stack: Stack) -> None:
    """An update sent with a start that fails is refused naming why (not left hanging)."""
    data = support.fresh("no-such-definition")
    start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
        "Procedure",
        data,
        id=m.procedure_workflow_id(data["municipality"], data["reference"]),
        task_queue=stack.task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
    )
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await asyncio.wait_for(
            stack.client.execute_update_with_start_workflow(
                "admin_advance",
                {**ADMIN, "idempotency_key": "a1", "reason": "Bekanntmachung erfolgt"},
                start_workflow_operation=start,
                result_type=m.Receipt,
            ),
            timeout=support.WAIT.total_seconds(),
        )
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == Code.PROCEDURE_NOT_READY
    assert cause.non_retryable
    assert cause.message.startswith(
        "PROCEDURE_NOT_READY: the procedure did not start: definition_id: "
    ), cause.message
    assert "no-such-definition" in cause.message
    # the run itself failed with the start error, at once and non-retryable
    handle = await start.workflow_handle()
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.type == "DefinitionNotFound"
