"""`Procedure`: one generic durable workflow that runs any catalogue definition.

Start: validate the loose input (bad input fails the run at once, non-retryable, naming the
field), load and pin the definition through an activity (snapshot + content hash land in the
history), bind parameters, record the procedure. Then run phases as the definition says,
each through its runner in `workflows.phases`, following transitions (loops, rounds) until
`end`, an administrator's cancel, or continue-as-new, which carries `ProcedureState` whole.

The class is assembled from three handler mixins, each update directly followed by its
validator: statement intake (`workflows.intake`), participation and outcome
(`workflows.participation`), administration (`workflows.admin`). The checks are pure
functions in `workflows.checks`, the platform mechanics in `workflows.engine`; the queries
are here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import activities.contracts as c
    import workflows.messages as m
    import workflows.outreach as outreach
    import workflows.rules as rules
    from activities.records import NotificationRequest, ProcedureRecord, stable_id
    from definitions.schema import END, PARAM_REF, Definition, bind_parameters
    from definitions.validate import check_bound_parameters
    from workflows.admin import AdminHandlers
    from workflows.errors import failure_reason
    from workflows.intake import IntakeHandlers
    from workflows.participation import ParticipationHandlers
    from workflows.phases import RUNNERS
    from workflows.phases.base import CANCELLED, CONTINUE
    from workflows.state import ProcedureState

__all__ = ["PATCH_START_IN_ONE_WRITE", "ProcedureWorkflow"]

PATCH_START_IN_ONE_WRITE = "start-in-one-write"
PATCH_CHECK_BOUND_PARAMETERS = "check-bound-parameters"


def _fail(field: str, problem: str, type_: str = "InvalidStartProcedure") -> ApplicationError:
    return ApplicationError(f"{field}: {problem}", type=type_, non_retryable=True)


def _parameter_problems(defn: Definition, given: dict[str, Any], err: ValueError) -> str:
    """Name each bad parameter: `hearing_period: expected ISO-8601 duration ...`."""
    problems = []
    for name, value in given.items():
        try:
            bind_parameters(defn, {name: value})
        except ValueError as one:
            text = str(one)
            problems.append(text if name in text else f"{name}: {text}")
    return "; ".join(problems) or str(err)


def _legal_problems(defn: Definition, params: dict[str, Any]) -> str:
    """Hearing periods below the legal minimum, each led by the parameter that set it:
    `hearing_period: phase hearing: period P21D is shorter than the legal minimum ...`."""
    problems = check_bound_parameters(defn, params)
    named: list[str] = []
    for phase in defn.phases:
        mine = [p for p in problems if p.startswith(f"phase {phase.id}:")]
        ref = PARAM_REF.match(phase.period.duration) if phase.period is not None else None
        named.extend(f"{ref.group(1)}: {p}" if ref else p for p in mine)
    return "; ".join(named or problems)


@workflow.defn(name="Procedure")
class ProcedureWorkflow(IntakeHandlers, ParticipationHandlers, AdminHandlers):
    @workflow.init
    def __init__(self, raw: Any, carried: ProcedureState | None = None) -> None:
        super().__init__()
        if carried is not None:  # continued run: everything is there, accept at once
            self.state = carried
            self.defn = Definition.model_validate(carried.definition)
            self._ready = True
            outreach.install_handlers(self)  # before the first task's updates are applied

    # ================================================================== run

    @workflow.run
    async def run(self, raw: Any, carried: ProcedureState | None = None) -> m.ProcedureResult:
        if carried is None:
            try:
                await self._start(raw)
            except ApplicationError as err:
                # updates sent with the start wait for it: refuse them first, then fail the run
                self._start_failure = err.message
                await workflow.wait_condition(workflow.all_handlers_finished)
                raise
        else:
            self.state.run += 1
        return await self._main()

    async def _main(self) -> m.ProcedureResult:
        self.restore_carried()
        outreach.install_handlers(self)
        flusher = asyncio.create_task(self.flusher())
        st = self.state
        early, self._early_signals = self._early_signals, []
        for raw in early:
            self._accept_signal(raw)
        self.publish_visibility()
        while st.life in ("running", "paused"):
            assert st.phase_id is not None
            phase = self.defn.phase(st.phase_id)
            reason = await RUNNERS[phase.type](self, phase.id)
            if reason == CONTINUE:
                await self.drain()
                self._stopping = True
                await flusher
                # Updates accepted while the flusher finished are carried; their handlers
                # must return before the run ends (else: AcceptedUpdateCompletedWorkflow).
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(args=[None, st])
            if reason == CANCELLED:
                break
            step = rules.choose_transition(self.defn, phase, st, self.today())
            await self._take(phase.id, step)
        # Completed or cancelled: validators now refuse; let in-flight handlers finish.
        await self.drain(carry=False)
        self._stopping = True
        await flusher
        self.publish_visibility()
        await outreach.purge_at_end(self)  # register data of outreach waves (GDPR)
        final = "procedure.cancelled" if st.life == "cancelled" else "procedure.completed"
        counts = {**st.counts, **outreach.status_counts(self)}
        await self.emit(final, {"reason": st.reason, "counts": counts}, summary=st.reason)
        return m.ProcedureResult(
            procedure_id=st.procedure_id, state=st.life, reason=st.reason, counts=counts
        )

    async def _start(self, raw: Any) -> None:
        try:
            start = m.StartProcedure.model_validate(raw)
        except ValidationError as err:
            raise _fail("StartProcedure", m.first_error(err)) from err
        wf_id = workflow.info().workflow_id
        expected = m.procedure_workflow_id(start.municipality, start.reference)
        if wf_id != expected:
            raise _fail(
                "workflow_id",
                f"expected {expected!r} (from municipality and reference), got {wf_id!r}",
            )
        # One write instead of two (the procedure's row with `procedure.started`) and the
        # definition read as a local activity: two task-queue round trips fewer per start.
        one_write = workflow.patched(PATCH_START_IN_ONE_WRITE)
        # Every patch of the start is asked before the local activity: a marker recorded in
        # the workflow task that resolves a local activity is met on replay before the code
        # after the activity has run (nondeterminism error); histories without the one-write
        # marker ask it where they always did.
        check_bounds: bool | None = True if one_write else None
        try:
            loaded: c.LoadDefinitionResult = await (self.call_local if one_write else self.call)(
                c.LOAD_DEFINITION,
                c.LoadDefinitionInput(
                    definition_id=start.definition_id, version=start.definition_version
                ),
                c.LoadDefinitionResult,
            )
        except ActivityError as err:
            cause = failure_reason(err)
            raise _fail("definition_id", cause, "DefinitionNotFound") from err
        except ApplicationError as err:  # a local activity's failure arrives unwrapped
            raise _fail("definition_id", err.message, "DefinitionNotFound") from err
        defn = Definition.model_validate(loaded.definition)
        try:
            params = bind_parameters(defn, start.parameters)
        except ValueError as err:
            raise _fail("parameters", _parameter_problems(defn, start.parameters, err)) from err
        # A parameter must not shorten a hearing below its legal minimum (BauGB §3(2), §4(2)).
        if check_bounds is None:
            check_bounds = workflow.patched(PATCH_CHECK_BOUND_PARAMETERS)
        if check_bounds and (problems := _legal_problems(defn, params)):
            raise _fail("parameters", problems)
        self.defn = defn
        self.state = ProcedureState(
            procedure_id=wf_id,
            start=start,
            definition=loaded.definition,
            definition_version=loaded.version,
            definition_hash=loaded.content_hash,
            params=params,
            life="running",
            started_on=self.today(),
            phase_id=defn.first_phase_id(),
        )
        self._ready = True
        outreach.install_handlers(self)  # answer outreach messages as soon as others
        record = ProcedureRecord(
            procedure_id=wf_id,
            definition_id=defn.id,
            definition_version=loaded.version,
            definition_hash=loaded.content_hash,
            title=start.title,
            municipality=start.municipality,
            land=start.land,
            started_at=workflow.now(),
            parameters=params,
            kind=defn.kind,
        )
        started = {
            "definition_id": defn.id,
            "definition_version": loaded.version,
            "definition_hash": loaded.content_hash,
            "municipality": start.municipality,
            "land": start.land,
        }
        if not one_write:
            await self.call(
                c.RECORD_PROCEDURE, c.RecordProcedureInput(procedure=record), c.StoreResult
            )
            await self.emit("procedure.started", started, summary=start.title)
            return
        event = self.event("procedure.started", started)
        await self.call(
            c.RECORD_PROCEDURE,
            c.RecordProcedureInput(procedure=record, events=[event]),
            c.StoreResult,
        )
        self.note(event, start.title)

    async def _take(self, from_phase: str, step: rules.Step) -> None:
        st = self.state
        st.phase_entered = False
        if step.escalate_to:
            overdue = rules.overdue_commitments(st, self.today())
            note = NotificationRequest(
                procedure_id=st.procedure_id,
                notification_id=stable_id(
                    st.procedure_id, "escalated", from_phase, str(st.phase_visits.get(from_phase))
                ),
                template="commitment_overdue",
                audience=step.escalate_to,
                context={"commitments": overdue, "procedure_title": st.start.title},
            )
            await self.emit(
                "procedure.escalated",
                {"audience": step.escalate_to, "from": from_phase, "commitments": overdue},
                notifications=[note],
            )
        st.conditions = {}
        st.round = step.round
        st.limited_to = step.limited_to
        if step.to == END:
            st.life = "completed"
            st.reason = f"ended after {from_phase}"
            st.next_deadline = None
            return
        st.phase_id = step.to

    # ================================================================== queries

    @workflow.query
    def status(self) -> m.ProcedureStatus:
        if not self._ready:  # the definition is still loading
            return m.ProcedureStatus(
                procedure_id=workflow.info().workflow_id,
                definition_id="",
                definition_version="",
                definition_hash="",
                state="starting",
                phase_id=None,
                phase_type=None,
                round=1,
                phase_started=None,
                phase_ends=None,
                next_deadline=None,
                counts={},
                open_commitments=[],
                run=1,
            )
        st = self.state
        phase = self.defn.phase(st.phase_id) if st.phase_id else None
        return m.ProcedureStatus(
            procedure_id=st.procedure_id,
            definition_id=self.defn.id,
            definition_version=st.definition_version,
            definition_hash=st.definition_hash,
            state=st.life,
            phase_id=st.phase_id if st.life in ("running", "paused") else None,
            phase_type=phase.type if phase and st.life in ("running", "paused") else None,
            round=st.round,
            limited_to=st.limited_to,
            visits=sum(st.phase_visits.values()),
            phase_started=st.phase_started,
            phase_ends=st.phase_end,
            next_deadline=st.next_deadline,
            counts={
                **st.counts,
                **outreach.status_counts(self),
                "pending": len(self._pending) + len(st.carried),
            },
            open_commitments=sorted(
                cid for cid, v in st.commitments.items() if v.status not in ("done", "dropped")
            ),
            run=st.run,
        )

    @workflow.query
    def statements(self, after: int = 0, limit: int = 100) -> m.StatementPage:
        """Statement summaries with `sequence > after`, oldest first (newest window only)."""
        if not self._ready:
            return m.StatementPage(total=0, items=[], next_after=None, oldest_retained=None)
        st = self.state
        limit = max(1, min(limit, 1000))
        items = [s for s in st.recent_statements if s.sequence > after][:limit]
        more = items and items[-1].sequence < st.recent_statements[-1].sequence
        return m.StatementPage(
            total=st.counts.get("statements", 0),
            items=items,
            next_after=items[-1].sequence if more else None,
            oldest_retained=st.recent_statements[0].sequence if st.recent_statements else None,
        )

    @workflow.query
    def commitments(self) -> list[m.CommitmentView]:
        if not self._ready:
            return []
        return [self.state.commitments[k] for k in sorted(self.state.commitments)]

    @workflow.query
    def timeline(self) -> list[m.TimelineEntry]:
        if not self._ready:
            return []
        return list(self.state.timeline)
