"""Commitments falling due: one `commitment.due` event per commitment when its due date begins.

A self-commitment's owner promised a result by a date; integrators (the council information
system, the public commitments tracker) want to hear on that day, not only a review later
when it is overdue. The phase loop (`base.wait_for_end`) asks `next_due` for its next wake-up
and calls `emit_due` when it has come. The instant is 00:00 Europe/Berlin of the due date,
computed from the date alone and compared with `workflow.now()`, so timers replay exactly.

Once per commitment: the ids already announced are kept in the carried state (as handled
keys of kind `commitment.due`, so they survive continue-as-new), and the event id is a uuid5
of the procedure and the commitment, so a retried append stores and sends nothing twice.
Commitments that are done or dropped before their date are not announced. While the
procedure is paused nothing is sent; dates passed in the pause are announced on resume.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from temporalio import workflow

import activities.contracts as c
import definitions.calendar as calendar
from activities.records import stable_id
from workflows.engine import EngineBase
from workflows.messages import TimelineEntry

__all__ = ["EVENT", "PATCH_COMMITMENT_DUE", "due_instant", "emit_due", "next_due"]

EVENT = "commitment.due"
PATCH_COMMITMENT_DUE = "commitment-due-event"
"""Patch id: procedures recorded before it never announced due dates (no timers for them)."""

_CLOSED = ("done", "dropped")


def due_instant(due: date) -> datetime:
    """The beginning of the due date (00:00 Europe/Berlin) as an aware UTC datetime."""
    return calendar.deadline_instant(due - timedelta(days=1))


def _waiting(engine: EngineBase) -> list[tuple[datetime, str]]:
    st = engine.state
    return sorted(
        (due_instant(view.due_date), cid)
        for cid, view in st.commitments.items()
        if view.status not in _CLOSED and not st.has_key(EVENT, cid)
    )


def _enabled(engine: EngineBase) -> bool:
    """Ask for the patch only when a commitment waits, so histories without one keep
    their exact command sequence (no marker)."""
    return bool(_waiting(engine)) and workflow.patched(PATCH_COMMITMENT_DUE)


def next_due(engine: EngineBase) -> datetime | None:
    """When the next commitment falls due (None: none waits, or an old procedure)."""
    if not _enabled(engine):
        return None
    return _waiting(engine)[0][0]


async def emit_due(engine: EngineBase, now: datetime) -> bool:
    """Announce every commitment whose due date has begun; True if any was announced."""
    if not _enabled(engine):
        return False
    st = engine.state
    due = [cid for at, cid in _waiting(engine) if at <= now]
    if not due:
        return False
    events = []
    for cid in due:
        st.remember_key(EVENT, cid)  # before the await: a concurrent loop pass skips it
        view = st.commitments[cid]
        events.append(
            engine.event(
                EVENT,
                {"commitment_id": cid, "due_date": view.due_date.isoformat()},
                event_id=stable_id(st.procedure_id, EVENT, cid),
            )
        )
    await engine.call(
        c.APPEND_EVENTS,
        c.AppendEventsInput(procedure_id=st.procedure_id, events=events),
        c.AppendEventsResult,
    )
    for record in events:
        st.add_timeline(
            TimelineEntry(
                at=record.occurred_at,
                type=EVENT,
                phase_id=record.phase_id,
                round=record.round,
                summary=f"fällig: {st.commitments[record.payload['commitment_id']].title}",
            )
        )
    return True
