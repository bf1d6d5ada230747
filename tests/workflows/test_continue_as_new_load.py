"""A hearing under constant load crosses continue-as-new: every statement stored once.

Regression test for the 100,000-statement bench failure (`AcceptedUpdateCompletedWorkflow`).
Submitters that never pause kept the draining run busy: statement updates were accepted
while it drained, so intake never went idle, the run never continued as new, its history
grew to the server's hard limit and the server terminated it, failing every accepted update.

The dev server here suggests continue-as-new at 256 KB of history and terminates a run at
4 MB (production: 4 MB and 50 MB), so a run that does not continue in time dies within
seconds. Batches of 100 statements of about 1 KB fill the 1 MB a draining run may carry
after a few updates; from then on the old code could not finish its drain. The statements
go through the real intake client (`StatementSubmitter`, which sends refused batches again),
a real worker and real PostgreSQL; each must have one receipt, one row, one event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from temporalio.client import Client

from tests.helpers import assert_eq_eventually
from tests.workflows.limited_server import Stack, limited_stack
from tests.workflows.support import start, start_input, wait_phase
from workflows import messages as m
from workflows.client import StatementSubmitter
from workflows.procedure import ProcedureWorkflow

pytestmark = pytest.mark.integration

HISTORY_SUGGEST = 256 * 1024  # server suggests continue-as-new from here on
HISTORY_LIMIT = 4 * 1024 * 1024  # and terminates a run whose history outgrows this
TOTAL = 8000
BATCH = 100  # statements per update
IN_FLIGHT = 4  # updates in flight: a run overshoots the suggestion by a few updates only
TEXT = "Der Lärmschutz an der Bahnstadt reicht nicht aus. " * 20  # ~1 KB per statement


@pytest.fixture(scope="module")
async def stack(database_url: str) -> AsyncIterator[Stack]:
    """Dev server with small history limits, a real worker, a migrated schema of its own."""
    limits = {
        "limit.historySize.suggestContinueAsNew": HISTORY_SUGGEST,
        "limit.historySize.warn": HISTORY_LIMIT // 2,
        "limit.historySize.error": HISTORY_LIMIT,
    }
    async with limited_stack(database_url, limits, "can") as built:
        yield built


async def _continued_inputs(client: Client, workflow_id: str) -> list[int]:
    """Bytes of the input each continued run started with, newest run first."""
    sizes = []
    run_id: str | None = (await client.get_workflow_handle(workflow_id).describe()).run_id
    while run_id:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        async for event in handle.fetch_history_events(page_size=1):
            started = event.workflow_execution_started_event_attributes
            break
        run_id = started.continued_execution_run_id or None
        if run_id:
            sizes.append(sum(len(p.data) for p in started.input.payloads))
    return sizes


def _statement(n: int) -> m.StatementInput:
    return m.StatementInput(
        idempotency_key=f"load-{n}",
        role="public",
        statement_type="objection",
        text=f"Stellungnahme {n}: {TEXT}",
    )


async def test_constant_load_crosses_continue_as_new_without_loss(stack: Stack) -> None:
    announced = date.today() - timedelta(days=12)  # noqa: DTZ011 - real server, real clock
    data = start_input("baugb-3-2", announcement_date=announced.isoformat())
    first = await start(stack.client, stack.task_queue, data)
    await wait_phase(first, "hearing")
    handle = stack.client.get_workflow_handle_for(ProcedureWorkflow.run, first.id)
    submitter = StatementSubmitter(handle, batch_size=BATCH, max_in_flight=IN_FLIGHT)

    result = await submitter.submit([_statement(n) for n in range(TOTAL)])

    # runs draining for continue-as-new refused batches, which the client sent again
    assert submitter.retry_reasons["PROCEDURE_CONTINUING"] > 0, submitter.retry_reasons
    assert not result.errors, result.errors[:3]
    assert len(result.receipts) == TOTAL
    assert [r.idempotency_key for r in result.receipts] == [f"load-{n}" for n in range(TOTAL)]
    assert not any(r.duplicate for r in result.receipts)

    async def settled() -> tuple[int, int]:
        counts = (await handle.query(ProcedureWorkflow.status)).counts
        return counts.get("statements", 0), counts["pending"]

    await assert_eq_eventually((TOTAL, 0), settled, timeout=timedelta(seconds=60))
    status = await handle.query(ProcedureWorkflow.status)
    assert status.run >= 3, status.run  # several runs, each ended by continue-as-new
    assert status.counts.get("duplicates", 0) == 0
    assert status.phase_id == "hearing"
    # the carried state stays below Temporal's 512 KB payload warning
    inputs = await _continued_inputs(stack.client, first.id)
    assert len(inputs) == status.run - 1
    assert max(inputs) < 512 * 1024, inputs

    rows = await stack.pool.fetch(
        "SELECT statement_id::text, count(*) AS n FROM statements WHERE procedure_id = $1 "
        "GROUP BY statement_id",
        first.id,
    )
    assert {r["statement_id"] for r in rows} == {r.id for r in result.receipts}
    assert all(r["n"] == 1 for r in rows)
    received = await stack.pool.fetchval(
        "SELECT count(*) FROM events WHERE procedure_id = $1 AND event_type = 'statement.received'",
        first.id,
    )
    assert received == TOTAL

    cancel = m.AdminCancelInput(idempotency_key="over", role="administration", reason="Ende")
    await handle.execute_update(ProcedureWorkflow.admin_cancel, cancel)
    assert (await handle.result()).state == "cancelled"
