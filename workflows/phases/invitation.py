"""Invitation: decide who is asked, announce (Bekanntmachung), optionally take registrations.

The audience selection itself (a stratified lottery, the TöB list) is the selection
activities' job; the engine records what was decided and sends the on-start notifications
(announcement, invitations) through the outbox. A phase with `outreach` targets also
follows registrations against the targets, reports the groups that are missing, can send
a targeted second wave and, for a lottery, draws the panel (`workflows.outreach`).
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

from definitions.schema import InvitationPhase, Phase
from workflows import outreach
from workflows.engine import EngineBase
from workflows.phases.base import run_phase

__all__ = ["PATCH_OUTREACH", "run"]

PATCH_OUTREACH = "invitation-outreach"
"""Procedures started before outreach existed replay without its handlers and timer."""


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
    phase = engine.defn.phase(phase_id)
    targets = outreach.outreach_of(phase)
    if targets is None or not isinstance(phase, InvitationPhase):
        return await run_phase(engine, phase_id, on_enter=_invite)
    if not workflow.patched(PATCH_OUTREACH):
        return await run_phase(engine, phase_id, on_enter=_invite)
    outreach.install(engine, phase, targets)
    watcher = outreach.Watch(engine, phase, targets)
    started: list[asyncio.Task[None]] = []

    async def enter(engine: EngineBase, phase: Phase) -> None:
        await _invite(engine, phase)
        started.append(asyncio.create_task(watcher.run()))

    if engine.state.phase_entered:  # continued run: the phase is already under way
        started.append(asyncio.create_task(watcher.run()))
    try:
        return await run_phase(engine, phase_id, on_enter=enter)
    finally:
        for task in started:
            await outreach.stop(task, watcher)
