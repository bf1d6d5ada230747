"""Every update's validator: wrong phase, unknown role, bad payload, duplicate key.

Each rejection must come back to the caller with a message that says what was wrong, and
the procedure must keep running and accept the next valid message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

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
from workflows.errors import Code
from workflows.procedure import ProcedureWorkflow

Handle = WorkflowHandle[Any, Any]


async def rejected(handle: Handle, update: Any, arg: Any, code: Code, expected: str) -> None:
    """The update is refused with the stable `code` (as the error type and the message's
    prefix, non-retryable) and a message containing `expected`; still running after."""
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await handle.execute_update(update, arg)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.type == code, (cause.type, cause.message)
    assert cause.non_retryable
    assert cause.message.startswith(f"{code}: "), cause.message
    assert expected in cause.message, cause.message
    status = await handle.query(ProcedureWorkflow.status)
    assert status.state in ("running", "paused")


@pytest.fixture
async def worker(env: WorkflowEnvironment) -> AsyncIterator[tuple[Worker, FakeStorage]]:
    storage = FakeStorage({d: load_catalogue(d) for d in ("baugb-3-2", "buergerrat")})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        yield w, storage


async def test_statement_validators(
    env: WorkflowEnvironment, worker: tuple[Worker, FakeStorage]
) -> None:
    w, storage = worker
    limits = {"max_batch": 3, "max_statement_chars": 200}
    handle = await start(env.client, w.task_queue, start_input("baugb-3-2", limits=limits))
    await wait_phase(handle, "announcement")
    submit = ProcedureWorkflow.submit_statement
    await rejected(
        handle,
        submit,
        statement("early"),
        Code.PHASE_DOES_NOT_ACCEPT,
        "does not accept statements yet",
    )
    await env.sleep(timedelta(days=9))
    await wait_phase(handle, "hearing")

    await rejected(
        handle,
        submit,
        statement("r1", role="stranger"),
        Code.UNKNOWN_ROLE,
        "role 'stranger': unknown",
    )
    await rejected(
        handle, submit, statement("r2", role="staff"), Code.ROLE_NOT_ALLOWED, "not allowed here"
    )
    await rejected(
        handle,
        submit,
        statement("t1", kind="poem"),
        Code.STATEMENT_TYPE_NOT_ACCEPTED,
        "statement_type 'poem'",
    )
    long = m.StatementInput(
        idempotency_key="long", role="public", statement_type="objection", text="x" * 201
    )
    await rejected(
        handle, submit, long, Code.STATEMENT_TOO_LARGE, "text: 201 characters, at most 200"
    )
    raw_missing = {"idempotency_key": "raw", "role": "public", "statement_type": "objection"}
    await rejected(handle, "submit_statement", raw_missing, Code.INVALID_PAYLOAD, "text")
    bad_attachment = {**raw_missing, "text": "t", "attachments": ["file:///etc/passwd"]}
    await rejected(
        handle, "submit_statement", bad_attachment, Code.ATTACHMENT_SCHEME_NOT_ALLOWED, "attachment"
    )

    unknown = {**raw_missing, "text": "t", "colour": "red"}
    await rejected(handle, "submit_statement", unknown, Code.UNKNOWN_FIELD, "colour: Extra inputs")
    first = await handle.execute_update(submit, statement("k1"))
    await rejected(
        handle, submit, statement("k1"), Code.DUPLICATE_IDEMPOTENCY_KEY, "idempotency_key 'k1'"
    )

    batch = ProcedureWorkflow.submit_statements
    too_many = m.SubmitStatementsInput(statements=[statement(f"b{i}") for i in range(4)])
    await rejected(handle, batch, too_many, Code.BATCH_TOO_LARGE, "at most 3 allowed")
    twice = m.SubmitStatementsInput(statements=[statement("b1"), statement("b1")])
    await rejected(handle, batch, twice, Code.DUPLICATE_IDEMPOTENCY_KEY, "twice in one batch")
    mixed = m.SubmitStatementsInput(
        statements=[statement("b1"), statement("k1"), statement("b2", kind="poem")]
    )
    out = await handle.execute_update(batch, mixed)
    assert [r.idempotency_key for r in out.receipts] == ["b1"]
    assert [(e.index, e.idempotency_key) for e in out.errors] == [(1, "k1"), (2, "b2")]
    assert "statement_type 'poem'" in out.errors[1].message
    assert [e.code for e in out.errors] == [
        Code.DUPLICATE_IDEMPOTENCY_KEY,
        Code.STATEMENT_TYPE_NOT_ACCEPTED,
    ]
    assert out.errors[1].message.startswith("STATEMENT_TYPE_NOT_ACCEPTED: statement_type 'poem'")
    loose = {"statements": [{"idempotency_key": "b3", "role": "public"}, statement("b4")]}
    out = await handle.execute_update("submit_statements", loose, result_type=m.StatementsReceipt)
    assert [r.idempotency_key for r in out.receipts] == ["b4"]
    assert out.errors[0].idempotency_key == "b3"
    assert out.errors[0].message.startswith(
        "INVALID_PAYLOAD: StatementInput: statement_type: Field required"
    )
    assert out.errors[0].code == Code.INVALID_PAYLOAD
    await rejected(
        handle, "submit_statements", {"statement": []}, Code.INVALID_PAYLOAD, "non-empty list"
    )

    # updates of other phases, roles that may not do admin work
    reg = m.RegisterInput(idempotency_key="reg", role="public", name="Erika Mustermann")
    await rejected(
        handle,
        ProcedureWorkflow.register,
        reg,
        Code.PHASE_DOES_NOT_ACCEPT,
        "does not accept registrations",
    )
    vote = m.CastVoteInput(
        idempotency_key="v", role="public", voter_ref="p", proposal_id="x", choice="yes"
    )
    await rejected(
        handle,
        ProcedureWorkflow.cast_vote,
        vote,
        Code.PHASE_DOES_NOT_ACCEPT,
        "does not accept votes",
    )
    commit = m.AddCommitmentInput(
        idempotency_key="c",
        role="council",
        owner_role="council",
        owner_organisation="Rat",
        title="t",
        measurable_aim="a",
        due_date=date(2030, 1, 1),
    )
    await rejected(
        handle,
        ProcedureWorkflow.add_commitment,
        commit,
        Code.PHASE_DOES_NOT_ACCEPT,
        "does not accept commitm",
    )
    progress = m.ReportProgressInput(
        idempotency_key="p",
        role="council",
        commitment_id="nope",
        status="done",
        progress_percent=100,
    )
    await rejected(
        handle,
        ProcedureWorkflow.report_progress,
        progress,
        Code.PHASE_DOES_NOT_ACCEPT,
        "progress reports",
    )
    decision = m.RecordDecisionInput(
        idempotency_key="d", role="public", outcome="draft_changed", title="t"
    )
    await rejected(
        handle, ProcedureWorkflow.record_decision, decision, Code.ROLE_NOT_ALLOWED, "role 'public'"
    )
    ends = m.RecordDecisionInput(
        idempotency_key="d",
        role="administration",
        outcome="draft_changed",
        title="t",
        ends_phase=True,
    )
    await rejected(
        handle,
        ProcedureWorkflow.record_decision,
        ends,
        Code.PHASE_NOT_ENDED_BY_DECISION,
        "does not end by a moder",
    )

    status = await handle.query(ProcedureWorkflow.status)
    assert status.phase_ends is not None
    extend = ProcedureWorkflow.admin_extend_deadline
    not_admin = m.AdminExtendDeadlineInput(
        idempotency_key="e1",
        role="public",
        new_end=status.phase_ends + timedelta(days=7),
        reason="Auslegung verlängert",
    )
    await rejected(handle, extend, not_admin, Code.ROLE_NOT_ALLOWED, "role 'public'")
    earlier = not_admin.model_copy(
        update={"role": "administration", "new_end": status.phase_ends - timedelta(days=1)}
    )
    await rejected(handle, extend, earlier, Code.DEADLINE_NOT_LATER, "must be after")
    resume = m.AdminResumeInput(idempotency_key="x1", role="administration")
    await rejected(
        handle, ProcedureWorkflow.admin_resume, resume, Code.PROCEDURE_NOT_PAUSED, "not paused"
    )
    pause = m.AdminPauseInput(idempotency_key="x2", role="administration", reason="Störung")
    await handle.execute_update(ProcedureWorkflow.admin_pause, pause)
    again = pause.model_copy(update={"idempotency_key": "x3"})
    await rejected(
        handle, ProcedureWorkflow.admin_pause, again, Code.PROCEDURE_PAUSED, "already paused"
    )
    await rejected(handle, submit, statement("while-paused"), Code.PROCEDURE_PAUSED, "paused")
    await rejected(
        handle, ProcedureWorkflow.admin_pause, pause, Code.PROCEDURE_PAUSED, "already paused"
    )
    await handle.execute_update(ProcedureWorkflow.admin_resume, resume)
    await rejected(
        handle, ProcedureWorkflow.admin_resume, resume, Code.PROCEDURE_NOT_PAUSED, "not paused"
    )
    dup = m.AdminPauseInput(idempotency_key="x2", role="administration", reason="nochmal")
    await rejected(
        handle,
        ProcedureWorkflow.admin_pause,
        dup,
        Code.DUPLICATE_IDEMPOTENCY_KEY,
        "idempotency_key 'x2'",
    )

    after = await handle.execute_update(submit, statement("k2"))
    assert after.id != first.id
    status = await handle.query(ProcedureWorkflow.status)
    assert status.state == "running"
    assert status.counts["statements"] == 4
    assert len(storage.statements) == 4

    cancel = m.AdminCancelInput(
        idempotency_key="z", role="administration", reason="Planung aufgegeben"
    )
    await handle.execute_update(ProcedureWorkflow.admin_cancel, cancel)
    result = await outcome(env, handle)
    assert result.state == "cancelled"
    assert result.reason == "Planung aufgegeben"


async def test_participation_validators(
    env: WorkflowEnvironment, worker: tuple[Worker, FakeStorage]
) -> None:
    w, _ = worker
    handle = await start(env.client, w.task_queue, start_input("buergerrat"))
    await wait_phase(handle, "lottery")
    reg = m.RegisterInput(
        idempotency_key="r1", role="invited", name="Erika Mustermann", email="erika@example.org"
    )
    receipt = await handle.execute_update(ProcedureWorkflow.register, reg)
    await rejected(
        handle,
        ProcedureWorkflow.register,
        reg,
        Code.DUPLICATE_IDEMPOTENCY_KEY,
        "idempotency_key 'r1'",
    )
    bad_role = reg.model_copy(update={"idempotency_key": "r2", "role": "king"})
    await rejected(
        handle, ProcedureWorkflow.register, bad_role, Code.UNKNOWN_ROLE, "role 'king': unknown"
    )
    bad_mail = {"idempotency_key": "r3", "role": "invited", "email": "not-an-address"}
    await rejected(handle, "register", bad_mail, Code.INVALID_PAYLOAD, "email")

    await handle.execute_update(
        ProcedureWorkflow.admin_advance,
        m.AdminAdvanceInput(idempotency_key="a1", role="moderator", reason="Losverfahren fertig"),
    )
    await wait_phase(handle, "sessions")
    vote = m.CastVoteInput(
        idempotency_key="v1",
        role="members",
        voter_ref=receipt.id,
        proposal_id="e1",
        choice="approve",
    )
    await handle.execute_update(ProcedureWorkflow.cast_vote, vote)
    again = vote.model_copy(update={"idempotency_key": "v2"})
    await rejected(
        handle,
        ProcedureWorkflow.cast_vote,
        again,
        Code.ALREADY_VOTED,
        "already voted on proposal 'e1'",
    )
    await rejected(
        handle,
        ProcedureWorkflow.cast_vote,
        vote,
        Code.DUPLICATE_IDEMPOTENCY_KEY,
        "idempotency_key 'v1'",
    )
    await handle.execute_update(
        ProcedureWorkflow.admin_advance,
        m.AdminAdvanceInput(idempotency_key="a2", role="moderator", reason="Empfehlungen"),
    )
    await wait_phase(handle, "council_response")
    # the session's test server has skipped years by now: dates relative to its clock
    soon = (await env.get_current_time()).date() + timedelta(days=400)
    commit = m.AddCommitmentInput(
        idempotency_key="c1",
        role="council",
        owner_role="business",
        owner_organisation="Stadtwerke",
        title="Solardächer",
        measurable_aim="20 Dächer",
        due_date=soon,
    )
    await rejected(
        handle,
        ProcedureWorkflow.add_commitment,
        commit,
        Code.ROLE_NOT_ALLOWED,
        "owner_role 'business'",
    )
    past = commit.model_copy(update={"owner_role": "council", "due_date": date(2001, 1, 1)})
    await rejected(
        handle,
        ProcedureWorkflow.add_commitment,
        past,
        Code.DATE_IN_PAST,
        "must not lie in the past",
    )
    ok = commit.model_copy(update={"owner_role": "council"})
    added = await handle.execute_update(ProcedureWorkflow.add_commitment, ok)
    await rejected(
        handle,
        ProcedureWorkflow.add_commitment,
        ok,
        Code.DUPLICATE_IDEMPOTENCY_KEY,
        "idempotency_key 'c1'",
    )
    views = await handle.query(ProcedureWorkflow.commitments)
    assert [v.commitment_id for v in views] == [added.id]
    status = await handle.query(ProcedureWorkflow.status)
    assert status.open_commitments == [added.id]
    cancel = m.AdminCancelInput(idempotency_key="z", role="council", reason="Test zu Ende")
    await handle.execute_update(ProcedureWorkflow.admin_cancel, cancel)
    assert (await outcome(env, handle)).state == "cancelled"
