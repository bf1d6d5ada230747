"""A hearing closes while statements keep arriving; none of them is lost.

Closing a hearing waits until the statements received so far are stored, so its counts are
final. It used to wait for an idle intake instead: with submitters faster than storage the
backlog never emptied and the hearing could not close (nor continue as new) until they
stopped. Here storage takes 10 statements per call (`limits.store_batch`) while 8 batches
of 50 are in flight, so the backlog never empties; an administrator advances the hearing
while they go on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from tests.helpers import assert_eq_eventually
from tests.workflows.limited_server import Stack, limited_stack
from tests.workflows.support import start, start_input, wait_phase
from workflows import messages as m
from workflows.client import StatementSubmitter
from workflows.procedure import ProcedureWorkflow

pytestmark = pytest.mark.integration

TOTAL = 1500
ADVANCE_AFTER = 200  # stored statements before the administrator advances


@pytest.fixture(scope="module")
async def stack(database_url: str) -> AsyncIterator[Stack]:
    async with limited_stack(database_url, {}, "close") as built:
        yield built


def _statement(n: int) -> m.StatementInput:
    return m.StatementInput(
        idempotency_key=f"close-{n}",
        role="public",
        statement_type="objection",
        text=f"Stellungnahme {n}",
    )


async def test_a_hearing_closes_under_load_and_keeps_later_statements(stack: Stack) -> None:
    announced = date.today() - timedelta(days=12)  # noqa: DTZ011 - real server, real clock
    limits = {"store_batch": 10, "max_batch": 50}
    data = start_input("baugb-3-2", announcement_date=announced.isoformat(), limits=limits)
    first = await start(stack.client, stack.task_queue, data)
    await wait_phase(first, "hearing")
    handle = stack.client.get_workflow_handle_for(ProcedureWorkflow.run, first.id)
    submitter = StatementSubmitter(handle, batch_size=50, max_in_flight=8)
    sending = asyncio.create_task(submitter.submit([_statement(n) for n in range(TOTAL)]))

    async def stored() -> bool:
        counts = (await handle.query(ProcedureWorkflow.status)).counts
        return counts.get("statements", 0) >= ADVANCE_AFTER

    await assert_eq_eventually(True, stored, timeout=timedelta(seconds=60))
    advance = m.AdminAdvanceInput(idempotency_key="adv", role="administration", reason="genug")
    await handle.execute_update(ProcedureWorkflow.admin_advance, advance)
    result = await asyncio.wait_for(sending, 300)

    assert not result.errors, result.errors[:3]
    assert len(result.receipts) == TOTAL
    assert any(r.late for r in result.receipts)  # received after the hearing closed

    async def settled() -> tuple[int, int]:
        counts = (await handle.query(ProcedureWorkflow.status)).counts
        return counts.get("statements", 0), counts["pending"]

    await assert_eq_eventually((TOTAL, 0), settled, timeout=timedelta(seconds=60))
    events = await stack.pool.fetch(
        "SELECT event_type, payload FROM events WHERE procedure_id = $1 ORDER BY seq", first.id
    )
    types = [e["event_type"] for e in events]
    closed = types.index("hearing.closed")
    assert "statement.received" in types[closed + 1 :]  # the hearing closed while they came
    assert types.count("statement.received") == TOTAL
    rows = await stack.pool.fetchval(
        "SELECT count(DISTINCT statement_id) FROM statements WHERE procedure_id = $1", first.id
    )
    assert rows == TOTAL
    status = await handle.query(ProcedureWorkflow.status)
    assert status.phase_id != "hearing"
    cancel = m.AdminCancelInput(idempotency_key="over", role="administration", reason="Ende")
    await handle.execute_update(ProcedureWorkflow.admin_cancel, cancel)
    assert (await handle.result()).state == "cancelled"
