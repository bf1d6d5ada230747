"""Pure rules of the engine: periods, end conditions, transitions. No Temporal, no I/O.

The phase runners and the workflow call these with the pinned `Definition` and the state;
keeping them pure makes them testable without a server and keeps workflow code short.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from definitions import calendar
from definitions.schema import (
    END,
    AllAuthoritiesAnswered,
    Definition,
    Phase,
    Quorum,
    Transition,
    resolve_duration,
    resolve_int,
)
from workflows.state import ProcedureState

__all__ = [
    "PhasePeriod",
    "Step",
    "choose_transition",
    "compute_period",
    "details_markdown",
    "end_reason",
    "overdue_commitments",
    "reminder_instants",
]


@dataclass(frozen=True)
class PhasePeriod:
    """First and last legal day of a phase's period and the instant its timer fires."""

    first_day: date
    last_day: date
    deadline: datetime


@dataclass(frozen=True)
class Step:
    """Where a procedure goes after a phase: target phase (or END), round, audience limit."""

    to: str
    round: int
    limited_to: str | None
    escalate_to: str | None
    condition: str


def compute_period(
    defn: Definition, phase: Phase, state: ProcedureState, anchor: date, params: dict[str, object]
) -> PhasePeriod | None:
    """The phase's period from its anchor date, per `definitions.schema` and BGB §§187-193."""
    period = phase.period
    if period is None:
        return None
    land = state.start.land
    if period.anchor == "procedure_start" and state.started_on is not None:
        anchor = state.started_on
    expr = period.duration
    if state.round > 1 and period.repeat_duration is not None:
        expr = period.repeat_duration
    duration = resolve_duration(expr, dict(params))
    if period.lead is not None:
        lead = resolve_duration(period.lead, dict(params))
        first = calendar.earliest_start_after_lead(anchor, lead, land)
        last = calendar.period_end(
            first, duration, land, start_counts=True, apply_193=period.apply_193
        )
    else:
        counts = period.counting == "from_day"
        first = calendar.period_first_day(anchor, start_counts=counts)
        last = calendar.period_end(
            anchor, duration, land, start_counts=counts, apply_193=period.apply_193
        )
    return PhasePeriod(first_day=first, last_day=last, deadline=calendar.deadline_instant(last))


def reminder_instants(phase: Phase, deadline: datetime) -> list[tuple[int, datetime]]:
    """(days_before, instant) for every `before_end` notification, earliest first."""
    found = {
        n.days_before: deadline - timedelta(days=n.days_before)
        for n in phase.notifications
        if n.when == "before_end" and n.days_before is not None
    }
    return sorted(((d, at) for d, at in found.items()), key=lambda item: item[1])


def quorum_target(cond: Quorum, params: dict[str, object]) -> int:
    return resolve_int(cond.count, dict(params))


def end_reason(phase: Phase, state: ProcedureState, params: dict[str, object]) -> str | None:
    """Which of the phase's `ends_when` conditions holds now (besides deadline), if any."""
    for cond in phase.ends_when:
        if isinstance(cond, Quorum):
            if state.visit_count(cond.of) >= quorum_target(cond, params):
                return "quorum"
        elif isinstance(cond, AllAuthoritiesAnswered):
            members = {s.organisation for s in state.start.stakeholders if s.role == cond.audience}
            answered = set(state.answered)
            if members and members <= answered:
                return "all_authorities_answered"
        elif cond.kind == "moderator_decision" and state.advance_requested:
            return "moderator_decision"
    if state.advance_requested:
        return "advanced"
    return None


def overdue_commitments(state: ProcedureState, today: date) -> list[str]:
    """Ids of commitments past their due date and neither done nor dropped, sorted."""
    return sorted(
        cid
        for cid, c in state.commitments.items()
        if c.due_date < today and c.status not in ("done", "dropped")
    )


def _holds(t: Transition, defn: Definition, phase: Phase, state: ProcedureState, now: date) -> bool:
    params = state.params
    if t.round == "next" and defn.max_rounds is not None and state.round >= defn.max_rounds:
        return False
    match t.when:
        case "always":
            return True
        case "draft_changed":
            return state.conditions.get("draft_changed", False)
        case "draft_unchanged":
            return not state.conditions.get("draft_changed", False)
        case "quorum_reached" | "quorum_missed":
            quorums = [c for c in phase.ends_when if isinstance(c, Quorum)]
            reached = any(state.visit_count(q.of) >= quorum_target(q, params) for q in quorums)
            return reached if t.when == "quorum_reached" else not reached
        case "overdue":
            return bool(overdue_commitments(state, now))
        case "all_commitments_done":
            return bool(state.commitments) and all(
                c.status in ("done", "dropped") for c in state.commitments.values()
            )
        case "cycles_remaining":
            cycles = getattr(phase.settings, "cycles", 1)
            return state.phase_visits.get(phase.id, 0) < resolve_int(cycles, dict(params))
        case "decision":
            return state.decision == t.decision
    return False


def choose_transition(defn: Definition, phase: Phase, state: ProcedureState, today: date) -> Step:
    """The first transition whose condition holds, else the next phase in list order."""
    for t in phase.transitions:
        if _holds(t, defn, phase, state, today):
            rnd = {"same": state.round, "next": state.round + 1, "reset": 1}[t.round]
            return Step(t.to, rnd, t.limited_to, t.escalate_to, t.when)
    return Step(defn.next_in_order(phase.id), state.round, None, None, "fallthrough")


def is_end(step: Step) -> bool:
    return step.to == END


def details_markdown(defn: Definition, state: ProcedureState) -> str:
    """The Web UI's "current details" of a procedure (Temporal markdown), for administrators.

    Phase, round, period, next deadline and counts at a glance, without a query. Only public
    facts: the procedure's title and definition, dates and counts; never a participant, a
    statement text or an administrator's free-text reason.
    """
    st = state
    lines = [f"## {st.start.title}", ""]
    lines.append(f"- **Definition**: `{defn.id}` v{st.definition_version} ({defn.kind})")
    lines.append(f"- **State**: {st.life}")
    if st.phase_id is not None and st.life in ("running", "paused"):
        phase = defn.phase(st.phase_id)
        visit = st.phase_visits.get(phase.id, 0)
        limited = f", limited to `{st.limited_to}`" if st.limited_to else ""
        lines.append(
            f"- **Phase**: {phase.id} (round {st.round}): {phase.title.de}; "
            f"{phase.type}, visit {visit}{limited}"
        )
        first = st.phase_started.isoformat() if st.phase_started else "?"
        last = st.phase_end.isoformat() if st.phase_end else "open end"
        lines.append(f"- **Period**: {first} to {last}")
    if st.next_deadline is not None:
        day = calendar.berlin_date(st.next_deadline - timedelta(microseconds=1))
        utc = st.next_deadline.strftime("%Y-%m-%d %H:%M")
        lines.append(f"- **Next deadline**: end of {day.isoformat()} (Europe/Berlin), {utc} UTC")
    else:
        lines.append("- **Next deadline**: none")
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(st.counts.items())) or "none yet"
    lines.append(f"- **Counts**: {counts}")
    if st.commitments:
        open_ = [c for c in st.commitments.values() if c.status not in ("done", "dropped")]
        overdue = sum(1 for c in open_ if c.status == "overdue")
        lines.append(f"- **Open commitments**: {len(open_)} ({overdue} overdue)")
    lines.append(f"- **Run**: {st.run}")
    return "\n".join(lines) + "\n"
