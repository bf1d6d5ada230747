"""Drives any catalogue definition through all its phases with realistic messages.

For each phase it sends what the phase accepts (statements, registrations or signatures,
votes, commitments, progress reports), then ends it the way the definition says: a
moderator's decision, or the deadline (by skipping time on the test server). Used by the
end-to-end test of every catalogue definition and by the history recorder.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from definitions.schema import Definition, Phase
from tests.helpers import assert_eq_eventually
from tests.workflows.support import outcome
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow

MAX_STEPS = 40


class Driver:
    def __init__(
        self,
        env: WorkflowEnvironment,
        handle: WorkflowHandle[Any, Any],
        defn: Definition,
        *,
        silent_reviews: int = 0,
    ) -> None:
        self.env = env
        self.handle = handle
        self.defn = defn
        self.n = 0
        self.phases: list[tuple[str, int]] = []
        self.silent_reviews = silent_reviews  # review visits in which owners report nothing

    def key(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}-{self.n}"

    async def status(self) -> m.ProcedureStatus:
        return await self.handle.query(ProcedureWorkflow.status)

    async def run(self, decisions: dict[str, list[str]] | None = None) -> m.ProcedureResult:
        """Until the procedure completes; `decisions` lists outcomes per phase id, one a visit."""
        decisions = {k: list(v) for k, v in (decisions or {}).items()}

        async def started() -> bool:
            # Past "starting" is not enough: the first phase must have been entered, or a
            # busy machine lets the driver act on the state between start and first entry.
            status = await self.status()
            return status.state != "starting" and (status.visits >= 1 or status.state != "running")

        await assert_eq_eventually(True, started)
        for _ in range(MAX_STEPS):
            status = await self.status()
            if status.state != "running":
                break
            assert status.phase_id is not None
            phase = self.defn.phase(status.phase_id)
            self.phases.append((phase.id, status.round))
            await self.feed(phase, status)
            queued = decisions.get(phase.id)
            await self.finish(phase, status, queued.pop(0) if queued else None)
            await self.wait_next(status.visits)
        result: m.ProcedureResult = await outcome(self.env, self.handle)
        return result

    def audience_role(self, phase: Phase, status: m.ProcedureStatus) -> str:
        if status.limited_to:
            return status.limited_to
        if phase.audiences:
            return phase.audiences[0]
        return self.defn.audiences[0].id

    async def feed(self, phase: Phase, status: m.ProcedureStatus) -> None:
        role = self.audience_role(phase, status)
        types = list(phase.accepts.statement_types) + (
            ["proposal"] if phase.accepts.proposals else []
        )
        if types:
            items = [
                m.StatementInput(
                    idempotency_key=self.key("s"),
                    role=role,
                    statement_type=types[i % len(types)],
                    text=f"Stellungnahme {i}: Bitte Radweg und Bäume erhalten.",
                )
                for i in range(3)
            ]
            out = await self.handle.execute_update(
                ProcedureWorkflow.submit_statements, m.SubmitStatementsInput(statements=items)
            )
            assert not out.errors, out.errors
        if phase.accepts.registrations or phase.accepts.signatures:
            for i in range(3):
                await self.handle.execute_update(
                    ProcedureWorkflow.register,
                    m.RegisterInput(
                        idempotency_key=self.key("r"),
                        role=role,
                        name=f"Person {i}",
                        email=f"person{i}@example.org",
                    ),
                )
        if phase.accepts.votes is not None:
            votes = phase.accepts.votes
            choice = "yes" if votes.method == "yes_no" else (votes.options or ["p1"])[0]
            for voter in ("v1", "v2"):
                await self.handle.execute_update(
                    ProcedureWorkflow.cast_vote,
                    m.CastVoteInput(
                        idempotency_key=self.key("v"),
                        role=role,
                        voter_ref=voter,
                        proposal_id="proposal-1",
                        choice=choice,
                    ),
                )
        if phase.accepts.commitments:
            actors = list(getattr(phase.settings, "actors", [])) or [self.defn.roles[0].id]
            today = (await self.env.get_current_time()).date()
            await self.handle.execute_update(
                ProcedureWorkflow.add_commitment,
                m.AddCommitmentInput(
                    idempotency_key=self.key("c"),
                    role=actors[0],
                    owner_role=actors[0],
                    owner_organisation="Stadt Heidelberg, Amt für Stadtentwicklung",
                    title="Radweg Mühlweg bauen",
                    measurable_aim="1,2 km Radweg fertig",
                    due_date=today + timedelta(days=200),
                ),
            )
        visits = sum(1 for p, _ in self.phases if p == phase.id)
        reports = phase.accepts.progress_reports or phase.type == "review"
        if reports and visits > self.silent_reviews:
            for view in await self.handle.query(ProcedureWorkflow.commitments):
                if view.status in ("done", "dropped"):
                    continue
                await self.handle.execute_update(
                    ProcedureWorkflow.report_progress,
                    m.ReportProgressInput(
                        idempotency_key=self.key("p"),
                        role=self.defn.roles[0].id,
                        commitment_id=view.commitment_id,
                        status="done",
                        progress_percent=100,
                    ),
                )

    async def finish(self, phase: Phase, status: m.ProcedureStatus, outcome: str | None) -> None:
        after = await self.status()
        if after.visits != status.visits or after.state != "running":
            return  # a quorum or all authorities answered already ended it
        admin = self.defn.roles[0].id
        by_moderator = any(e.kind == "moderator_decision" for e in phase.ends_when)
        if outcome is None and phase.decision_options and by_moderator:
            outcome = phase.decision_options[0]
        if outcome is not None:
            await self.handle.execute_update(
                ProcedureWorkflow.record_decision,
                m.RecordDecisionInput(
                    idempotency_key=self.key("d"),
                    role=admin,
                    outcome=outcome,
                    title=f"Entscheidung {outcome}",
                    ends_phase=by_moderator,
                ),
            )
            if by_moderator:
                return
        if by_moderator:
            await self.handle.execute_update(
                ProcedureWorkflow.admin_advance,
                m.AdminAdvanceInput(idempotency_key=self.key("a"), role=admin, reason="erledigt"),
            )
            return
        assert status.next_deadline is not None, f"phase {phase.id} cannot end"
        now = await self.env.get_current_time()
        await self.env.sleep(status.next_deadline - now + timedelta(hours=1))

    async def wait_next(self, visits: int) -> None:
        async def moved() -> bool:
            status = await self.status()
            return status.visits != visits or status.state != "running"

        await assert_eq_eventually(True, moved)
