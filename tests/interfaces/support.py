"""Starting and watching procedures on the interface tests' dev server."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle

from tests.helpers import assert_eq_eventually
from workflows import messages as m

WAIT = timedelta(seconds=60)  # generous: a loaded CI machine, never a fixed sleep


async def start(
    client: Client, task_queue: str, data: dict[str, Any], *, summary: str | None = None
) -> WorkflowHandle[Any, Any]:
    """Start `Procedure` with plain JSON input, as the Web UI and other SDKs send it."""
    wf_id = m.procedure_workflow_id(data["municipality"], data["reference"])
    return await client.start_workflow(
        "Procedure", data, id=wf_id, task_queue=task_queue, static_summary=summary
    )


def fresh(definition_id: str = "baugb-3-2", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "definition_id": definition_id,
        "reference": f"T {uuid.uuid4().hex[:10]}",
        "title": "Bebauungsplan Testfeld",
        "municipality": "08221000",
        "land": "BW",
    }
    return {**data, **overrides}


async def status(handle: WorkflowHandle[Any, Any]) -> m.ProcedureStatus:
    result: m.ProcedureStatus = await handle.query("status", result_type=m.ProcedureStatus)
    return result


async def wait_phase(
    handle: WorkflowHandle[Any, Any], phase: str, *, after_visits: int = 0
) -> m.ProcedureStatus:
    """Poll until the procedure has entered `phase` (a phase visit after `after_visits`).

    `status` names the next phase a moment before the phase runner has entered it (`visits`
    counts entered visits); only then are its period and deadline set, so callers wait for
    the visit, not just the name. (An advance sent in between is kept for that visit.)
    """

    async def current() -> tuple[str, str | None, bool]:
        st = await status(handle)
        return st.state, st.phase_id, st.visits > after_visits

    expected: tuple[str, str | None, bool] = ("running", phase, True)
    await assert_eq_eventually(expected, current, timeout=WAIT)
    return await status(handle)


async def advance(handle: WorkflowHandle[Any, Any], to: str) -> None:
    """End the current phase as an administrator would, and wait for the next one."""
    before = (await status(handle)).visits
    data = {"idempotency_key": f"adv-{uuid.uuid4().hex[:8]}", "role": "administration"}
    await handle.execute_update("admin_advance", {**data, "reason": "test"}, result_type=m.Receipt)
    await wait_phase(handle, to, after_visits=before)


async def cancel(handle: WorkflowHandle[Any, Any]) -> None:
    """Finish a test procedure through its own admin update (the way an administrator would)."""
    data = {"idempotency_key": "test-over", "role": "administration", "reason": "test over"}
    await handle.execute_update("admin_cancel", data, result_type=m.Receipt)
    result = await handle.result()
    assert result["state"] == "cancelled"
