"""Invitation: decide who is asked, announce (Bekanntmachung), optionally take registrations.

The audience selection itself (a stratified lottery, the TöB list) is the selection
activity's job; the engine records what was decided and sends the on-start notifications
(announcement, invitations) through the outbox.
"""

from __future__ import annotations

from definitions.schema import InvitationPhase, Phase
from workflows.engine import EngineBase
from workflows.phases.base import run_phase

__all__ = ["run"]


async def _invite(engine: EngineBase, phase: Phase) -> None:
    assert isinstance(phase, InvitationPhase)
    settings = phase.settings
    await engine.emit(
        "invitation.sent",
        {
            "selection": settings.selection,
            "announce": settings.announce,
            "audiences": list(phase.audiences),
            "stakeholders": len(engine.state.start.stakeholders),
        },
        summary=f"Einladung: {settings.selection}",
    )


async def run(engine: EngineBase, phase_id: str) -> str:
    return await run_phase(engine, phase_id, on_enter=_invite)
