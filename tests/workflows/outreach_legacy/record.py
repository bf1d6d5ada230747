"""Record the histories of `test_outreach_legacy_replay` with the engine from before
`OutreachState` (outreach in generic counters), so later runs start from the old shape.

    git archive 3f16c48 | tar -x -C /tmp/old   # the last commit before OutreachState
    mkdir -p /tmp/old/tests/workflows/outreach_legacy
    cp tests/workflows/outreach_legacy/record.py /tmp/old/tests/workflows/outreach_legacy/
    touch /tmp/old/tests/workflows/outreach_legacy/__init__.py
    (cd /tmp/old && /work/main/.venv/bin/python -m tests.workflows.outreach_legacy.record \\
        /work/main/tests/workflows/outreach_legacy)

A Bürgerrat whose lottery phase continues as new twice (10 updates per run) while people
register and declare their groups; the check at P10D finds groups missing and draws a
second wave; an administrator ends the lottery, then cancels. One JSON file per run.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.selection.activity import SelectionActivities
from activities.selection.settings import SelectionSettings
from tests.helpers import new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import (
    cancel,
    load_catalogue,
    register_search_attributes,
    start,
    start_input,
    wait_phase,
)
from worker.binaries import temporal_test_server
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow

DEFINITION = "buergerrat"
REFERENCE = "outreach legacy"
AGES = ["35-44", "45-54", "55-64", "65+"]


def _extract(path: Path) -> None:
    rng = random.Random(7)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "age", "gender", "education", "migration_background", "address"])
    for i in range(200):
        age = rng.choice(["16-24", "25-34", *AGES])
        gender = rng.choice(["female", "male"])
        education = rng.choice(["low", "middle", "high"])
        background = rng.choice(["none", "own", "parents"])
        writer.writerow([f"m{i:04d}", age, gender, education, background, f"Weg {i}"])
    path.write_text(buffer.getvalue(), encoding="utf-8")


async def record(out: Path) -> None:
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
    )
    try:
        await register_search_attributes(env)
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            data_dir.mkdir()
            _extract(data_dir / "melderegister.csv")
            settings = SelectionSettings(data_dir=data_dir, documents_dir=Path(tmp) / "docs")
            storage = FakeStorage({DEFINITION: load_catalogue(DEFINITION)})
            acts = [*storage.activities(), SelectionActivities(settings).draw_outreach_wave]
            async with new_worker(env.client, ProcedureWorkflow, activities=acts) as w:
                data = start_input(DEFINITION, reference=REFERENCE)
                data["limits"] = {"max_updates_per_run": 10}
                handle = await start(env.client, w.task_queue, data)
                await wait_phase(handle, "lottery")
                for i in range(22):
                    receipt = await handle.execute_update(
                        ProcedureWorkflow.register,
                        m.RegisterInput(idempotency_key=f"r{i}", role="invited", name=f"P {i}"),
                    )
                    await handle.execute_update(
                        "declare_profile",
                        {
                            "idempotency_key": f"p{i}",
                            "participant_id": receipt.id,
                            "profile": {"age": AGES[i % 4], "gender": "female"},
                        },
                        result_type=m.Receipt,
                    )
                await env.sleep(timedelta(days=11))  # the check: gaps, the second wave
                for _ in range(600):
                    if "outreach.wave_drawn" in storage.event_types():
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise AssertionError(f"no second wave: {storage.event_types()}")
                await handle.execute_update(
                    ProcedureWorkflow.admin_advance,
                    m.AdminAdvanceInput(idempotency_key="adv", role="administration", reason="x"),
                )
                await wait_phase(handle, "sessions")
                await cancel(env, handle)
                run_id: str | None = handle.first_execution_run_id
                n = 1
                while run_id is not None:
                    history = await env.client.get_workflow_handle(
                        handle.id, run_id=run_id
                    ).fetch_history()
                    path = out / f"buergerrat-run{n}.json"
                    path.write_text(history.to_json(), encoding="utf-8")
                    print(f"{path}: {len(history.events)} events")
                    last = history.events[-1]
                    run_id = None
                    if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                        attrs = last.workflow_execution_continued_as_new_event_attributes
                        run_id = attrs.new_execution_run_id
                    n += 1
    finally:
        await env.shutdown()


def main(args: list[str] | None = None) -> None:
    target = Path((args or sys.argv[1:] or [str(Path(__file__).parent)])[0])
    asyncio.run(record(target))


if __name__ == "__main__":
    main()
