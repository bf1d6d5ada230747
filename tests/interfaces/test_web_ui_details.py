"""What the Temporal Web UI shows of a procedure, read the way the UI reads it.

The UI's "Current Details" and its lists of queries, signals and updates come from the
built-in `__temporal_workflow_metadata` query (the SDK's `workflow.set_current_details`);
the list view's summary from the start request. Real dev server, real worker.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import WorkflowHandle

from tests.helpers import assert_eq_eventually
from tests.interfaces import support
from tests.interfaces.conftest import Stack
from workflows import messages as m

pytestmark = pytest.mark.integration

PRIVATE = "Erika Mustermann, Hauptstraße 5"


async def details(handle: WorkflowHandle[Any, Any]) -> str:
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    text: str = metadata.current_details
    return text


async def test_current_details_show_phase_round_deadline_and_counts(stack: Stack) -> None:
    handle = await support.start(
        stack.client, stack.task_queue, support.fresh(), summary="Bebauungsplan Testfeld"
    )
    await support.wait_phase(handle, "announcement")
    text = await details(handle)
    assert text.startswith("## Bebauungsplan Testfeld\n")
    assert "- **Definition**: `baugb-3-2` v1.0.0 (bauleitplanung)" in text
    assert "- **State**: running" in text
    assert "- **Phase**: announcement (round 1): " in text
    assert "- **Counts**: none yet" in text

    await support.advance(handle, "hearing")
    st = await support.status(handle)
    assert st.phase_ends is not None
    assert st.next_deadline is not None
    for i in range(2):
        statement = {"idempotency_key": f"s{i}", "role": "public", "statement_type": "objection"}
        await handle.execute_update(
            "submit_statement", {**statement, "text": PRIVATE}, result_type=m.StatementReceipt
        )

    async def counted() -> bool:
        return "statements: 2" in await details(handle)

    await assert_eq_eventually(True, counted, timeout=support.WAIT)
    text = await details(handle)
    assert "- **Phase**: hearing (round 1): " in text
    assert "hearing, visit 1" in text
    assert f"- **Period**: {st.phase_started} to {st.phase_ends}" in text
    utc = st.next_deadline.strftime("%Y-%m-%d %H:%M")
    assert f"- **Next deadline**: end of {st.phase_ends} (Europe/Berlin), {utc} UTC" in text
    assert "Mustermann" not in text
    assert "Hauptstraße" not in text

    pause = {"idempotency_key": "p1", "role": "administration", "reason": PRIVATE}
    await handle.execute_update("admin_pause", pause, result_type=m.Receipt)
    text = await details(handle)
    assert "- **State**: paused" in text
    assert "Mustermann" not in text  # the administrator's free-text reason stays out

    # the same metadata lists what the UI offers to run: queries, signals, updates
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert metadata.definition.type == "Procedure"
    queries = {q.name for q in metadata.definition.query_definitions}
    assert {"status", "statements", "commitments", "timeline"} <= queries
    assert {s.name for s in metadata.definition.signal_definitions} == {"post_statement"}
    updates = {u.name for u in metadata.definition.update_definitions}
    assert {"submit_statement", "admin_advance", "admin_cancel"} <= updates
    assert await (await handle.describe()).static_summary() == "Bebauungsplan Testfeld"
    # the Web UI's timeline names each phase timer by what it waits for
    history = await handle.fetch_history()
    timers = [
        json.loads(e.user_metadata.summary.data)
        for e in history.events
        if e.HasField("timer_started_event_attributes") and e.HasField("user_metadata")
    ]
    assert "hearing: reminder 7 days before the end" in timers
    await support.cancel(handle)
