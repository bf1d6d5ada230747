"""Commitment: a council decision and self-commitments of named actors are recorded.

Commitments arrive through `add_commitment` (owner, due date, measurable aim); at the end
the list of open commitments is published so the review can follow them up.
"""

from __future__ import annotations

from definitions.schema import Phase
from workflows.engine import EngineBase
from workflows.phases.base import run_phase

__all__ = ["run"]


async def _publish(engine: EngineBase, phase: Phase) -> None:
    st = engine.state
    await engine.emit(
        "commitments.published",
        {"phase_id": phase.id, "commitments": sorted(st.commitments), "decision": st.decision},
        summary=f"{len(st.commitments)} Selbstverpflichtungen",
    )


async def run(engine: EngineBase, phase_id: str) -> str:
    return await run_phase(engine, phase_id, on_end=_publish)
