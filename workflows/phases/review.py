"""Review: owners report progress; overdue commitments are escalated; a report is published.

At the start of each review cycle commitments past their due date are marked overdue and
the definition's escalation audience is notified; the report at the end lists every
commitment's status. A transition can send the procedure back (e.g. to deliberation).
"""

from __future__ import annotations

from activities.records import NotificationRequest, stable_id
from definitions.schema import Phase, ReviewPhase
from workflows import rules
from workflows.engine import EngineBase
from workflows.phases.base import run_phase

__all__ = ["run"]


async def _escalate(engine: EngineBase, phase: Phase) -> None:
    assert isinstance(phase, ReviewPhase)
    st = engine.state
    today = engine.today()
    overdue = [
        cid
        for cid in rules.overdue_commitments(st, today)
        if st.commitments[cid].status != "overdue"  # escalated once, not every cycle
    ]
    for cid in overdue:
        st.commitments[cid] = st.commitments[cid].model_copy(update={"status": "overdue"})
    if not overdue:
        return
    notes = []
    if phase.settings.escalate_to:
        notes.append(
            NotificationRequest(
                procedure_id=st.procedure_id,
                notification_id=stable_id(
                    st.procedure_id, "escalate", phase.id, str(st.phase_visits.get(phase.id))
                ),
                template="commitment_overdue",
                audience=phase.settings.escalate_to,
                context={"commitments": overdue, **engine.notification_context(phase)},
            )
        )
    await engine.emit(
        "commitment.overdue",
        {"commitments": overdue},
        notifications=notes,
        summary=f"{len(overdue)} überfällig",
    )


async def _report(engine: EngineBase, phase: Phase) -> None:
    st = engine.state
    await engine.emit(
        "review.published",
        {
            "phase_id": phase.id,
            "cycle": st.phase_visits.get(phase.id, 0),
            "commitments": {cid: v.status for cid, v in sorted(st.commitments.items())},
        },
        summary="Überprüfungsbericht",
    )


async def run(engine: EngineBase, phase_id: str) -> str:
    return await run_phase(engine, phase_id, on_enter=_escalate, on_end=_report)
