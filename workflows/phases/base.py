"""The life of one phase visit, common to every phase type.

Enter (compute the period with the legal calendar, record `phase.changed`, send on-start
notifications), wait until an end condition holds (deadline timer, quorum, moderator
decision, all authorities answered, administrator), sending reminders on the way; then
on-end notifications. Type-specific work happens in hooks the phase modules pass in.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow

from definitions.schema import Phase
from workflows import rules
from workflows.admin import PATCH_ADVANCE_BEFORE_ENTRY, AdminHandlers
from workflows.engine import EngineBase
from workflows.phases import due

__all__ = ["CANCELLED", "CONTINUE", "Hook", "run_phase"]

CONTINUE = "continue_as_new"
CANCELLED = "cancelled"

Hook = Callable[[EngineBase, Phase], Awaitable[None]]


async def _nothing(engine: EngineBase, phase: Phase) -> None:
    return None


def _apply_early_advance(engine: EngineBase) -> None:
    """An advance acknowledged for this visit before it was entered ends it (not reset)."""
    if not isinstance(engine, AdminHandlers) or engine.advance_on_entry is None:
        return
    outcome, engine.advance_on_entry = engine.advance_on_entry, None
    if workflow.patched(PATCH_ADVANCE_BEFORE_ENTRY):
        engine.state.advance_requested = True
        if outcome:
            engine.state.decision = outcome


async def enter(engine: EngineBase, phase: Phase) -> None:
    """First activation of a visit: period, counters, event, notifications."""
    st = engine.state
    today = engine.today()
    anchor = st.next_anchor or today
    if st.phase_visits == {} and st.start.announcement_date is not None:
        anchor = st.start.announcement_date  # the first phase runs from the announcement
    st.phase_visits[phase.id] = st.phase_visits.get(phase.id, 0) + 1
    period = rules.compute_period(engine.defn, phase, st, anchor, st.params)
    st.phase_started = period.first_day if period else today
    st.phase_end = period.last_day if period else None
    st.next_deadline = period.deadline if period else None
    st.visit_counts = {}
    st.answered = []
    st.decision = None
    st.advance_requested = False
    st.reminders_sent = []
    st.next_anchor = None
    st.phase_entered = True
    _apply_early_advance(engine)
    engine.publish_visibility()
    await engine.emit(
        "phase.changed",
        {
            "phase_id": phase.id,
            "phase_type": phase.type,
            "round": st.round,
            "visit": st.phase_visits[phase.id],
            "period_start": st.phase_started.isoformat(),
            "period_end": st.phase_end.isoformat() if st.phase_end else None,
            "limited_to": st.limited_to,
        },
        notifications=engine.notifications(phase, "on_start"),
        summary=f"{phase.title.de} (Durchgang {st.round})",
    )


async def wait_for_end(engine: EngineBase, phase: Phase) -> str:
    """Block until the phase ends; return why (or CONTINUE / CANCELLED)."""
    st = engine.state
    ends_by_deadline = any(e.kind == "deadline" for e in phase.ends_when)
    while True:
        if st.life == "cancelled":
            return CANCELLED
        if engine.continue_as_new_due():
            return CONTINUE
        now = workflow.now()
        wake: tuple[datetime, str] | None = None  # next timer and what it is for (Web UI)
        if st.life == "running":
            if await due.emit_due(engine, now):
                continue  # the append took time: look again with a fresh clock
            due_at = due.next_due(engine)
            if due_at is not None:
                wake = (due_at, "commitment due")
            reason = rules.end_reason(phase, st, st.params)
            if reason is not None:
                return reason
            if ends_by_deadline and st.next_deadline is not None:
                if now >= st.next_deadline:
                    return "deadline"
                wake = _earlier(wake, st.next_deadline, f"{phase.id}: end of period")
            if st.next_deadline is not None:
                for days, at in rules.reminder_instants(phase, st.next_deadline):
                    if days in st.reminders_sent:
                        continue
                    if now >= at:
                        st.reminders_sent.append(days)
                        await engine.send(engine.notifications(phase, "before_end", days))
                        continue
                    wake = _earlier(wake, at, f"{phase.id}: reminder {days} days before the end")
        # counts and commitments change between entries (statements stored, votes): keep the
        # Web UI's details current on every pass (no command, so replay is unaffected)
        workflow.set_current_details(rules.details_markdown(engine.defn, st))
        seen = engine.wake_count()
        timeout = max(wake[0] - now, timedelta(0)) if wake is not None else None
        with contextlib.suppress(asyncio.TimeoutError):
            await workflow.wait_condition(
                lambda seen=seen: engine.wake_count() != seen or engine.continue_as_new_due(),  # type: ignore[misc]
                timeout=timeout,
                timeout_summary=wake[1] if wake is not None else None,
            )


def _earlier(current: tuple[datetime, str] | None, at: datetime, why: str) -> tuple[datetime, str]:
    return (at, why) if current is None or at < current[0] else current


async def run_phase(
    engine: EngineBase,
    phase_id: str,
    *,
    on_enter: Hook = _nothing,
    on_end: Hook = _nothing,
) -> str:
    """One visit of a phase (or its continuation after continue-as-new)."""
    phase = engine.defn.phase(phase_id)
    if not engine.state.phase_entered:
        await enter(engine, phase)
        await on_enter(engine, phase)
    reason = await wait_for_end(engine, phase)
    if reason in (CONTINUE, CANCELLED):
        return reason
    st = engine.state
    if reason == "deadline" and st.phase_end is not None:
        st.next_anchor = st.phase_end + timedelta(days=1)
    await on_end(engine, phase)
    await engine.emit(
        "phase.ended",
        {"phase_id": phase.id, "round": st.round, "reason": reason, "counts": st.visit_counts},
        notifications=engine.notifications(phase, "on_end"),
        summary=f"{phase.title.de}: {reason}",
    )
    return reason
