"""Every catalogue definition runs end to end through all its phases."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from definitions.schema import Definition
from tests.helpers import new_worker
from tests.workflows.driver import Driver
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import catalogue_ids, load_catalogue, start, start_input
from workflows.procedure import ProcedureWorkflow

# Smaller numbers where a definition's defaults would make the test slow (1,000 signatures).
PARAMETERS = {"beteiligungsantrag": {"signatures_required": 3}}


@pytest.mark.parametrize("definition_id", catalogue_ids())
async def test_runs_end_to_end(env: WorkflowEnvironment, definition_id: str) -> None:
    loaded = load_catalogue(definition_id)
    defn = Definition.model_validate(loaded.definition)
    storage = FakeStorage({definition_id: loaded})
    stakeholders = [
        {"role": a.id, "organisation": f"Behörde {i}"}
        for a in defn.audiences
        if a.kind == "authorities"
        for i in range(2)
    ]
    data = start_input(
        definition_id,
        parameters=PARAMETERS.get(defn.id, {}),
        stakeholders=stakeholders,
    )
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, data)
        driver = Driver(env, handle, defn)
        result = await driver.run()
    assert result.state == "completed"
    visited = {phase for phase, _ in driver.phases}
    assert visited == {p.id for p in defn.phases}, driver.phases
    types = storage.event_types()
    assert types[0] == "procedure.started"
    assert types[-1] == "procedure.completed"
    assert types.count("phase.changed") == len(driver.phases)
    assert storage.procedures[handle.id].definition_hash == loaded.content_hash
