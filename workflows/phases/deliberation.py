"""Deliberation: statements are weighed, sessions held, proposals voted on (with a quorum).

Votes arrive through `cast_vote`; the quorum and moderator-decision end conditions are
checked by `base`. At the end the tally is published as an event.
"""

from __future__ import annotations

from definitions.schema import Phase
from workflows.engine import EngineBase
from workflows.phases.base import run_phase

__all__ = ["run"]


async def _publish(engine: EngineBase, phase: Phase) -> None:
    st = engine.state
    await engine.emit(
        "deliberation.results",
        {"phase_id": phase.id, "votes": st.votes, "decision": st.decision},
        summary=f"Ergebnis: {st.decision or 'offen'}",
    )


async def run(engine: EngineBase, phase_id: str) -> str:
    return await run_phase(engine, phase_id, on_end=_publish)
