"""Hearing: a period in which statements are accepted (each with a receipt).

Statements themselves arrive through updates and signals and are stored in batches by the
engine's intake; this runner marks the phase as the one late statements belong to, keeps
reminders and extension working (in `base`), and closes the period with its counts.
"""

from __future__ import annotations

from definitions.schema import Phase
from workflows.engine import EngineBase
from workflows.phases.base import run_phase

__all__ = ["run"]


async def _open(engine: EngineBase, phase: Phase) -> None:
    st = engine.state
    st.last_hearing = phase.id
    st.last_hearing_round = st.round
    st.last_hearing_deadline = st.next_deadline


async def _close(engine: EngineBase, phase: Phase) -> None:
    await engine.drain_intake()
    st = engine.state
    await engine.emit(
        "hearing.closed",
        {
            "phase_id": phase.id,
            "round": st.round,
            "statements": st.visit_count("statements"),
            "period_end": st.phase_end.isoformat() if st.phase_end else None,
        },
        summary=f"{st.visit_count('statements')} Stellungnahmen",
    )


async def run(engine: EngineBase, phase_id: str) -> str:
    return await run_phase(engine, phase_id, on_enter=_open, on_end=_close)
