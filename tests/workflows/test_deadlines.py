"""Legal deadlines: a §3(2) publication ends on the legally right day; extension moves it.

Worked example (BauGB §3(2) with BGB §§187(2), 188(2), 193; Heilige Drei Könige is a public
holiday in Baden-Württemberg, not in Nordrhein-Westfalen):
- announcement (ortsübliche Bekanntmachung) on Friday 29 November 2024; the one-week lead
  (§187(1): the announcement day does not count) ends Friday 6 December 2024;
- the publication begins on Saturday 7 December 2024 and counts that day (§187(2)); one month
  ends on Monday 6 January 2025 (§188(2), second alternative; the 30-day floor would end on
  5 January);
- 6 January 2025 is Epiphany in BW, so the period ends on Tuesday 7 January 2025 (§193);
  in NW it ends on Monday 6 January 2025.
The dates lie in the past of any test run, so the timers fire at once; the periods the
engine computed are read from its `phase.changed` events.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from definitions import calendar
from tests.helpers import new_worker
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import (
    cancel,
    d,
    load_catalogue,
    start,
    start_input,
    statement,
    wait_phase,
)
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow


def periods(storage: FakeStorage) -> dict[str, tuple[str, str | None]]:
    out: dict[str, tuple[str, str | None]] = {}
    for event_id in storage.event_order:
        event = storage.events[event_id]
        if event.type == "phase.changed":
            payload: dict[str, Any] = event.payload
            out[payload["phase_id"]] = (payload["period_start"], payload["period_end"])
    return out


@pytest.mark.parametrize(("land", "hearing_end"), [("BW", "2025-01-07"), ("NW", "2025-01-06")])
async def test_publication_ends_on_the_legal_day(
    env: WorkflowEnvironment, land: str, hearing_end: str
) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    data = start_input("baugb-3-2", land=land, announcement_date="2024-11-29")
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, data)
        await wait_phase(handle, "weighing")
        found = periods(storage)
        assert found["announcement"] == ("2024-11-30", "2024-12-06")
        assert found["hearing"] == ("2024-12-07", hearing_end)
        # a statement now is after the deadline: kept and flagged, never dropped
        late = await handle.execute_update(ProcedureWorkflow.submit_statement, statement("s"))
        assert late.late
        assert late.phase_id == "hearing"
        await cancel(env, handle)
    assert next(iter(storage.statements.values())).late


async def test_extension_moves_the_deadline(env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-3-2": load_catalogue("baugb-3-2")})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input("baugb-3-2"))
        await env.sleep(timedelta(days=9))
        await wait_phase(handle, "hearing")
        status = await handle.query(ProcedureWorkflow.status)
        assert status.phase_ends is not None
        assert status.next_deadline == calendar.deadline_instant(status.phase_ends)
        old_end = status.phase_ends
        new_end = calendar.next_working_day(old_end + timedelta(days=14), "BW")
        await handle.execute_update(
            ProcedureWorkflow.admin_extend_deadline,
            m.AdminExtendDeadlineInput(
                idempotency_key="ext",
                role="administration",
                new_end=new_end,
                reason="Unterlagen unvollständig ausgelegt",
            ),
        )
        status = await handle.query(ProcedureWorkflow.status)
        assert status.phase_ends == new_end
        assert status.next_deadline == calendar.deadline_instant(new_end)
        # past the old deadline: still in the hearing, and on time
        now = await env.get_current_time()
        await env.sleep(calendar.deadline_instant(old_end) - now + timedelta(days=2))
        on_time = await handle.execute_update(ProcedureWorkflow.submit_statement, statement("a"))
        assert not on_time.late
        assert (await handle.query(ProcedureWorkflow.status)).phase_id == "hearing"
        # past the new one: the phase ended by its (moved) timer
        now = await env.get_current_time()
        await env.sleep(calendar.deadline_instant(new_end) - now + timedelta(hours=1))
        await wait_phase(handle, "weighing")
        await cancel(env, handle)
    events = [storage.events[e] for e in storage.event_order]
    extended = [e for e in events if e.type == "deadline.extended"]
    assert extended[0].payload["to"] == new_end.isoformat()
    reminders = [n for n in storage.notifications.values() if n.template == "reminder"]
    assert len(reminders) == 1  # seven days before the moved deadline, once
    assert reminders[0].context["period_end"] == new_end.isoformat()
    ended = [e for e in events if e.type == "phase.ended" and e.phase_id == "hearing"]
    assert ended[0].payload["reason"] == "deadline"
    assert ended[0].occurred_at >= calendar.deadline_instant(new_end)


def test_worked_example_matches_the_calendar() -> None:
    """The same example through the calendar directly, so a failure says which side moved."""
    assert calendar.period_end(d("2024-11-29"), "P1W", "BW") == d("2024-12-06")
    assert calendar.period_end(
        d("2024-12-07"), "one_month_min_30_days", "BW", start_counts=True
    ) == d("2025-01-07")
