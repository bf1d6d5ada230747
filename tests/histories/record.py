"""Record one event history per catalogue definition into tests/histories/ (JSON).

    .venv/bin/python -m tests.histories.record            # every catalogue definition
    .venv/bin/python -m tests.histories.record baugb-3-2  # just these
    .venv/bin/python -m tests.histories.record --suffix patched baugb-4-2  # a new generation

Each run drives the definition through all phases with the end-to-end driver on a fresh
time-skipping server with in-memory activities. Commit the files: `test_replay` replays them
against the current workflow code, so a change that breaks running procedures fails CI
(and must be guarded with `workflow.patched`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from definitions.schema import Definition
from tests.helpers import new_worker
from tests.workflows.driver import Driver
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import (
    catalogue_ids,
    load_catalogue,
    register_search_attributes,
    start,
    start_input,
)
from worker.binaries import temporal_test_server
from workflows.procedure import ProcedureWorkflow

HERE = Path(__file__).resolve().parent
PARAMETERS = {"beteiligungsantrag": {"signatures_required": 3}}


async def record(definition_ids: list[str], suffix: str = "") -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
    )
    try:
        await register_search_attributes(env)
        for definition_id in definition_ids:
            loaded = load_catalogue(definition_id)
            defn = Definition.model_validate(loaded.definition)
            storage = FakeStorage({definition_id: loaded})
            stakeholders = [
                {"role": a.id, "organisation": f"Behörde {i}"}
                for a in defn.audiences
                if a.kind == "authorities"
                for i in range(2)
            ]
            path = HERE / f"{definition_id}{'.' + suffix if suffix else ''}.json"
            data = start_input(
                definition_id,
                reference=f"history {path.stem}",
                parameters=PARAMETERS.get(definition_id, {}),
                stakeholders=stakeholders,
            )
            async with new_worker(
                env.client, ProcedureWorkflow, activities=storage.activities()
            ) as w:
                handle = await start(env.client, w.task_queue, data)
                await Driver(env, handle, defn).run()
            history = await handle.fetch_history()
            path.write_text(history.to_json(), encoding="utf-8")
            print(f"{path.relative_to(HERE.parents[1])}: {len(history.events)} events")
    finally:
        await env.shutdown()


def main() -> None:
    args = sys.argv[1:]
    suffix = ""
    if args[:1] == ["--suffix"]:
        suffix, args = args[1], args[2:]
    asyncio.run(record(args or catalogue_ids(), suffix))


if __name__ == "__main__":
    main()
