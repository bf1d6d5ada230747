"""A start parameter may not shorten a hearing below its legal minimum (BauGB §3(2): 30 days).

The definition's defaults are lawful; a parameter given at the start is checked against the
legal basis with `definitions.validate.check_bound_parameters`. A run that would be unlawful
fails at once, non-retryable, and the message names the parameter and the minimum.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from tests.helpers import new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import cancel, outcome, start, start_input, wait_phase
from workflows.procedure import ProcedureWorkflow


async def test_a_hearing_period_below_the_legal_minimum_fails_the_start(
    env: WorkflowEnvironment,
) -> None:
    storage = FakeStorage()
    data = start_input("baugb-3-2", parameters={"hearing_period": "P21D"})
    async with new_worker(
        env.client, ProcedureWorkflow, activities=storage.activities(real_loader=True)
    ) as w:
        handle = await start(env.client, w.task_queue, data)
        with pytest.raises(WorkflowFailureError) as info:
            await outcome(env, handle)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.non_retryable
    assert cause.type == "InvalidStartProcedure"
    assert cause.message.startswith("parameters: hearing_period: phase hearing: period P21D"), (
        cause.message
    )
    assert "legal minimum of 30 days (BauGB §3(2))" in cause.message
    assert not storage.procedures  # refused before anything was recorded


async def test_a_longer_hearing_period_is_accepted(env: WorkflowEnvironment) -> None:
    storage = FakeStorage()
    data = start_input("baugb-3-2", parameters={"hearing_period": "P45D"})
    async with new_worker(
        env.client, ProcedureWorkflow, activities=storage.activities(real_loader=True)
    ) as w:
        handle = await start(env.client, w.task_queue, data)
        await wait_phase(handle, "announcement")
        await env.sleep(timedelta(days=9))
        await wait_phase(handle, "hearing")
        status = await handle.query(ProcedureWorkflow.status)
        assert status.phase_started is not None
        assert status.phase_ends is not None
        # 45 days counted from the first day (§187(2)); §193 may move the end further
        assert (status.phase_ends - status.phase_started).days >= 44
        await cancel(env, handle)
