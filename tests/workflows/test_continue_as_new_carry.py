"""What a draining run carries into the next one stays below Temporal's 512 KB payload warning.

Signals cannot be refused, so statements that arrive as signals while a run drains for
continue-as-new travel in the carried state, up to what the continue-as-new input can take;
the rest is stored before the run ends. Storage is held shut here while 600 signals of about
1 KB arrive, so the drain cannot finish early and the budget decides alone. Before the
budget was measured (1 MB of estimated statement bytes on top of the state) the next run
started with about 900 KB of input.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities import contracts as c
from activities.records import stable_id
from tests.helpers import assert_eq_eventually, new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import cancel, load_catalogue, start, start_input, wait_phase
from workflows.procedure import ProcedureWorkflow

SIGNALS = 600
TEXT = "Der Lärmschutz an der Bahnstadt reicht nicht aus. " * 20  # ~1 KB per statement
PAYLOAD_WARNING = 512 * 1024


class GatedStorage(FakeStorage):
    """Statement writes wait until the test opens the gate (a storage that is slow)."""

    def __init__(self) -> None:
        super().__init__({"baugb-3-2": load_catalogue("baugb-3-2")})
        self.gate = asyncio.Event()

    @activity.defn(name=c.STORE_STATEMENTS)
    async def store_statements(self, data: c.StoreStatementsInput) -> c.StoreStatementsResult:
        await self.gate.wait()
        return await super().store_statements(data)


async def _first_input_of_latest_run(client: Client, workflow_id: str) -> tuple[int, bool]:
    """(input bytes, continued from an earlier run) of the procedure's current run."""
    handle = client.get_workflow_handle(workflow_id)
    async for event in handle.fetch_history_events(page_size=1):
        started = event.workflow_execution_started_event_attributes
        size = sum(len(p.data) for p in started.input.payloads)
        return size, bool(started.continued_execution_run_id)
    raise AssertionError("no history")


async def test_signals_during_a_drain_are_carried_within_the_payload_budget(
    env: WorkflowEnvironment,
) -> None:
    storage = GatedStorage()
    storage.gate.set()
    limits = {"max_signals_per_run": 10}
    data = start_input("baugb-3-2", limits=limits)
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        first = await start(env.client, w.task_queue, data)
        await env.sleep(timedelta(days=9))
        await wait_phase(first, "hearing")
        handle = env.client.get_workflow_handle_for(ProcedureWorkflow.run, first.id)
        storage.gate.clear()
        for n in range(SIGNALS):
            statement = {
                "idempotency_key": f"sig-{n}",
                "role": "public",
                "statement_type": "objection",
                "text": f"Stellungnahme {n}: {TEXT}",
            }
            await handle.signal(ProcedureWorkflow.post_statement, statement)

        async def waiting() -> bool:
            # every signal is in this run (pending or carried) but the batch in flight
            counts = (await handle.query(ProcedureWorkflow.status)).counts
            return counts["pending"] >= SIGNALS - 10

        await assert_eq_eventually(True, waiting)
        storage.gate.set()

        async def continued() -> bool:
            # (a query sent while the old run hands over can hang on the test server)
            latest = await env.client.get_workflow_handle(first.id).describe()
            return latest.run_id != first.result_run_id

        await assert_eq_eventually(True, continued)

        async def stored() -> tuple[int, int]:
            status = await handle.query(ProcedureWorkflow.status)
            return status.counts.get("statements", 0), status.counts["pending"]

        await assert_eq_eventually((SIGNALS, 0), stored)
        status = await handle.query(ProcedureWorkflow.status)
        assert status.run == 2, status.run
        size, was_continued = await _first_input_of_latest_run(env.client, first.id)
        assert was_continued
        assert 50 * 1024 < size < PAYLOAD_WARNING, size  # statements were carried, not too many
        await cancel(env, handle)
    keys = (f"sig-{n}" for n in range(SIGNALS))
    assert set(storage.statements) == {stable_id(first.id, "statement", k) for k in keys}
    received = [e for e in storage.event_types() if e == "statement.received"]
    assert len(received) == SIGNALS
