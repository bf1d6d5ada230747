"""The schema and the calendar work in workflow code: inside the sandbox, deterministic."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from temporalio.testing import WorkflowEnvironment

from definitions import calendar, loader
from tests.definitions.sandbox_workflow import DeadlineProbe
from tests.helpers import new_worker


async def test_deadline_computed_inside_the_sandbox(env: WorkflowEnvironment) -> None:
    snapshot = loader.load_definition("baugb-3-2").definition.model_dump(mode="json")
    async with new_worker(env.client, DeadlineProbe) as worker:
        start, last_day, instant = await env.client.execute_workflow(
            DeadlineProbe.run,
            snapshot,
            id=f"probe-{uuid.uuid4()}",
            task_queue=worker.task_queue,
            result_type=list[str],
        )
    expected = calendar.period_end(
        date.fromisoformat(start), "one_month_min_30_days", "BY", start_counts=True
    )
    assert last_day == expected.isoformat()
    assert datetime.fromisoformat(instant) == calendar.deadline_instant(expected)
