"""The intake client under real server push-back: RESOURCE_EXHAUSTED is retried, nothing lost.

Temporal admits a bounded number of updates in flight per workflow (10 by default) and
answers the next one with RESOURCE_EXHAUSTED. The dev server here admits only 2, so 8
batches in flight meet the limit at once; its own metrics show each refusal. The SDK's core
client retries RESOURCE_EXHAUSTED by itself for about 10 s; `StatementSubmitter` retries
once that gives up. Its own retry is tested through a client whose core retries are off, so
every refusal reaches it. Either way: one receipt, one stored row and one
`statement.received` event per statement.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RetryConfig, RPCError, RPCStatusCode

from tests.helpers import assert_eq_eventually
from tests.workflows.limited_server import Stack, limited_stack
from tests.workflows.support import start, start_input, wait_phase
from workflows import messages as m
from workflows.client import StatementSubmitter, retryable
from workflows.procedure import ProcedureWorkflow

pytestmark = pytest.mark.integration

IN_FLIGHT_LIMIT = 2
TOTAL = 600
BATCH = 20


@pytest.fixture(scope="module")
async def limited(database_url: str) -> AsyncIterator[Stack]:
    config = {"history.maxInFlightUpdates": IN_FLIGHT_LIMIT}
    async with limited_stack(database_url, config, "backpressure") as built:
        yield built


@pytest.fixture(scope="module")
async def no_retries(limited: Stack) -> Client:
    """A client whose core retries a failed call once only (with 0, refusals never reached
    the caller here: core went on retrying them)."""
    return await Client.connect(
        limited.address,
        data_converter=pydantic_data_converter,
        retry_config=RetryConfig(max_retries=1, initial_interval_millis=1, max_interval_millis=1),
    )


async def _refused_since(stack: Stack, before: int, at_least: int = 1) -> bool:
    """Whether the server counted `at_least` refusals since `before` (its metrics are
    reported in intervals, so this waits up to 10 s for them)."""
    for _ in range(100):
        if await _refusals(stack) >= before + at_least:
            return True
        await asyncio.sleep(0.1)
    return False


async def _refusals(stack: Stack) -> int:
    """Updates the server refused as over its concurrency limit (its own counter)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(stack.metrics_url)).text
    pattern = (
        r'^service_errors_resource_exhausted\{[^}]*operation="UpdateWorkflowExecution"'
        r'[^}]*service_name="frontend"[^}]*\} (\d+)$'
    )
    return sum(int(n) for n in re.findall(pattern, text, re.M))


def _statement(key: str) -> m.StatementInput:
    return m.StatementInput(
        idempotency_key=key, role="public", statement_type="objection", text=f"Stellungnahme {key}"
    )


async def _hearing(stack: Stack, client: Client) -> WorkflowHandle[Any, Any]:
    announced = date.today() - timedelta(days=12)  # noqa: DTZ011 - real server, real clock
    data = start_input("baugb-3-2", announcement_date=announced.isoformat())
    first = await start(stack.client, stack.task_queue, data)
    await wait_phase(first, "hearing")
    return client.get_workflow_handle_for(ProcedureWorkflow.run, first.id)


async def _finish(handle: WorkflowHandle[Any, Any]) -> None:
    cancel = m.AdminCancelInput(idempotency_key="over", role="administration", reason="Ende")
    await handle.execute_update(ProcedureWorkflow.admin_cancel, cancel)
    assert (await handle.result()).state == "cancelled"


async def test_the_server_refuses_updates_beyond_its_in_flight_limit(
    limited: Stack, no_retries: Client
) -> None:
    """The premise: a burst of updates meets RESOURCE_EXHAUSTED, which counts as retryable."""
    handle = await _hearing(limited, no_retries)
    before = await _refusals(limited)
    batches = [
        m.SubmitStatementsInput(statements=[_statement(f"raw-{b}-{i}") for i in range(BATCH)])
        for b in range(8)
    ]
    outcomes = await asyncio.gather(
        *(handle.execute_update(ProcedureWorkflow.submit_statements, b) for b in batches),
        return_exceptions=True,
    )
    refused = [o for o in outcomes if isinstance(o, RPCError)]
    assert refused, outcomes
    assert all(o.status == RPCStatusCode.RESOURCE_EXHAUSTED for o in refused), refused
    assert all(retryable(o) for o in refused)
    accepted = [o for o in outcomes if isinstance(o, m.StatementsReceipt)]
    assert len(accepted) + len(refused) == len(batches), outcomes
    assert await _refused_since(limited, before, len(refused))
    await _finish(handle)


@pytest.mark.parametrize("core_retries", [False, True], ids=["client-retries", "core-retries"])
async def test_the_client_backs_off_and_loses_nothing(
    limited: Stack, no_retries: Client, core_retries: bool
) -> None:
    handle = await _hearing(limited, limited.client if core_retries else no_retries)
    before = await _refusals(limited)
    submitter = StatementSubmitter(handle, batch_size=BATCH, max_in_flight=8, max_attempts=50)
    keys = [f"bp-{n}" for n in range(TOTAL)]

    result = await submitter.submit([_statement(k) for k in keys])

    assert await _refused_since(limited, before)  # the server did push back
    if not core_retries:
        assert submitter.retry_reasons["RESOURCE_EXHAUSTED"] > 0, submitter.retry_reasons
    assert not result.errors, result.errors[:3]
    assert [r.idempotency_key for r in result.receipts] == keys
    assert not any(r.duplicate for r in result.receipts)

    async def settled() -> tuple[int, int]:
        counts = (await handle.query(ProcedureWorkflow.status)).counts
        return counts.get("statements", 0), counts["pending"]

    await assert_eq_eventually((TOTAL, 0), settled)
    stored = await limited.pool.fetch(
        "SELECT statement_id::text FROM statements WHERE procedure_id = $1", handle.id
    )
    assert sorted(r["statement_id"] for r in stored) == sorted(r.id for r in result.receipts)
    received = await limited.pool.fetchval(
        "SELECT count(*) FROM events WHERE procedure_id = $1 AND event_type = 'statement.received'",
        handle.id,
    )
    assert received == TOTAL
    await _finish(handle)


async def test_a_batch_refused_for_good_stops_the_others(limited: Stack) -> None:
    """A non-retryable refusal ends `submit` with that error and leaves no batch running."""
    handle = await _hearing(limited, limited.client)
    items = [_statement(f"ok-{n}") for n in range(BATCH * 6)]
    items[BATCH * 3 + 1] = _statement(f"ok-{BATCH * 3}")  # same key twice in batch 4
    submitter = StatementSubmitter(handle, batch_size=BATCH, max_in_flight=2)

    with pytest.raises(WorkflowUpdateFailedError) as info:
        await submitter.submit(items)

    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == "DUPLICATE_IDEMPOTENCY_KEY"
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not current and "_batch" in repr(t)]
    assert not left, left
    await _finish(handle)
