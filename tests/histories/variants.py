"""Deliberate changes to `Procedure`, for the replay tests (a module of its own: the sandbox
re-imports a workflow's module, so it holds nothing but workflow code)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.messages import ProcedureResult
    from workflows.procedure import ProcedureWorkflow
    from workflows.state import ProcedureState

__all__ = ["PatchedChange", "UnguardedChange"]


@workflow.defn(name="Procedure")
class UnguardedChange(ProcedureWorkflow):
    """A new timer before loading the definition, without a patch: breaks old histories."""

    @workflow.run
    async def run(self, raw: Any, carried: ProcedureState | None = None) -> ProcedureResult:
        return await super().run(raw, carried)

    async def _start(self, raw: Any) -> None:
        await workflow.sleep(1)
        await super()._start(raw)


@workflow.defn(name="Procedure")
class PatchedChange(ProcedureWorkflow):
    """The same change behind `workflow.patched`: new runs wait, old histories replay."""

    @workflow.run
    async def run(self, raw: Any, carried: ProcedureState | None = None) -> ProcedureResult:
        return await super().run(raw, carried)

    async def _start(self, raw: Any) -> None:
        if workflow.patched("start-grace-timer"):
            await workflow.sleep(1)
        await super()._start(raw)
