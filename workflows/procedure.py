"""`Procedure`: one generic durable workflow that runs any catalogue definition.

Start: validate the loose input (bad input fails the run at once, non-retryable, naming the
field), load and pin the definition through an activity (snapshot + content hash land in the
history), bind parameters, record the procedure. Then run phases as the definition says,
each through its runner in `workflows.phases`, following transitions (loops, rounds) until
`end`, an administrator's cancel, or continue-as-new, which carries `ProcedureState` whole.

Handlers live here, each update directly followed by its validator; the checks themselves
are pure functions in `workflows.checks`, the mechanics in `workflows.engine`.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import activities.contracts as c
    import definitions.calendar as calendar
    import workflows.checks as checks
    import workflows.messages as m
    import workflows.rules as rules
    from activities.records import (
        CommitmentRecord,
        DecisionRecord,
        ParticipantRecord,
        ProcedureRecord,
        ProgressReportRecord,
        StatementRecord,
        VoteRecord,
        stable_id,
    )
    from definitions.schema import END, Definition, bind_parameters
    from workflows.checks import Rejected
    from workflows.engine import EngineBase
    from workflows.phases import RUNNERS
    from workflows.phases.base import CANCELLED, CONTINUE
    from workflows.state import ProcedureState

__all__ = ["ProcedureWorkflow"]

_M = TypeVar("_M", bound=BaseModel)


def _fail(field: str, problem: str, type_: str = "InvalidStartProcedure") -> ApplicationError:
    return ApplicationError(f"{field}: {problem}", type=type_, non_retryable=True)


def _parse(model: type[_M], raw: Any, *, handler: bool = False) -> _M:
    """Updates take loose JSON so a bad payload is rejected naming the field (not "Failed
    decoding arguments"); the validator has already parsed it once when the handler runs."""
    if isinstance(raw, model):
        return raw
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        msg = f"{model.__name__}: {m.first_error(err)}"
        if handler:
            raise ApplicationError(msg, type="Rejected", non_retryable=True) from err
        raise Rejected(msg) from err


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


def _key_text(key: Any) -> str | None:
    return None if key is None else str(key)[:200]


def _reject(err: Rejected) -> ApplicationError:
    """A check that failed inside a handler (after the start-up wait) fails the update only."""
    return ApplicationError(str(err), type="Rejected", non_retryable=True)


@workflow.defn(name="Procedure")
class ProcedureWorkflow(EngineBase):
    @workflow.init
    def __init__(self, raw: Any, carried: ProcedureState | None = None) -> None:
        super().__init__()
        if carried is not None:  # continued run: everything is there, accept at once
            self.state = carried
            self.defn = Definition.model_validate(carried.definition)
            self._ready = True

    # ================================================================== run

    @workflow.run
    async def run(self, raw: Any, carried: ProcedureState | None = None) -> m.ProcedureResult:
        if carried is None:
            await self._start(raw)
        else:
            self.state.run += 1
        return await self._main()

    async def _main(self) -> m.ProcedureResult:
        self.restore_carried()
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
                workflow.continue_as_new(args=[None, st])
            if reason == CANCELLED:
                break
            step = rules.choose_transition(self.defn, phase, st, self.today())
            await self._take(phase.id, step)
        # Completed or cancelled: validators now refuse; let in-flight handlers finish.
        await self.drain()
        self._stopping = True
        await flusher
        self.publish_visibility()
        final = "procedure.cancelled" if st.life == "cancelled" else "procedure.completed"
        await self.emit(final, {"reason": st.reason, "counts": st.counts}, summary=st.reason)
        return m.ProcedureResult(
            procedure_id=st.procedure_id, state=st.life, reason=st.reason, counts=dict(st.counts)
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
        try:
            loaded: c.LoadDefinitionResult = await self.call(
                c.LOAD_DEFINITION,
                c.LoadDefinitionInput(
                    definition_id=start.definition_id, version=start.definition_version
                ),
                c.LoadDefinitionResult,
            )
        except ActivityError as err:
            cause = err.cause.message if isinstance(err.cause, ApplicationError) else str(err)
            raise _fail("definition_id", cause, "DefinitionNotFound") from err
        defn = Definition.model_validate(loaded.definition)
        try:
            params = bind_parameters(defn, start.parameters)
        except ValueError as err:
            raise _fail("parameters", _parameter_problems(defn, start.parameters, err)) from err
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
        await self.call(
            c.RECORD_PROCEDURE,
            c.RecordProcedureInput(
                procedure=ProcedureRecord(
                    procedure_id=wf_id,
                    definition_id=defn.id,
                    definition_version=loaded.version,
                    definition_hash=loaded.content_hash,
                    title=start.title,
                    municipality=start.municipality,
                    land=start.land,
                    started_at=workflow.now(),
                    parameters=params,
                )
            ),
            c.StoreResult,
        )
        await self.emit(
            "procedure.started",
            {
                "definition_id": defn.id,
                "definition_version": loaded.version,
                "definition_hash": loaded.content_hash,
                "municipality": start.municipality,
                "land": start.land,
            },
            summary=start.title,
        )

    async def _take(self, from_phase: str, step: rules.Step) -> None:
        st = self.state
        st.phase_entered = False
        if step.escalate_to:
            await self.emit(
                "procedure.escalated", {"audience": step.escalate_to, "from": from_phase}
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

    # ================================================================== statements

    async def _until_ready(self) -> None:
        """Updates that arrive while the definition loads wait instead of being refused."""
        self._updates += 1
        await workflow.wait_condition(lambda: self._ready)

    def _statement(
        self, item: m.StatementInput, target: checks.StatementTarget
    ) -> tuple[StatementRecord, m.StatementReceipt]:
        st = self.state
        st.statement_seq += 1
        sid = stable_id(st.procedure_id, "statement", item.idempotency_key)
        digest = m.canonical_digest(item)
        now = workflow.now()
        record = StatementRecord(
            procedure_id=st.procedure_id,
            statement_id=sid,
            sequence=st.statement_seq,
            round=target.round,
            phase_id=target.phase_id,
            author_ref=item.author_ref,
            statement_type=item.statement_type,
            text=item.text,
            attachments=list(item.attachments),
            received_at=now,
            late=target.late,
            receipt_digest=digest,
        )
        receipt = m.StatementReceipt(
            id=sid,
            idempotency_key=item.idempotency_key,
            received_at=now,
            phase_id=target.phase_id,
            round=target.round,
            sha256=digest,
            late=target.late,
        )
        if item.organisation and item.organisation not in st.answered:
            st.answered.append(item.organisation)
            self.wake()
        return record, receipt

    def _check_statement(self, item: m.StatementInput) -> checks.StatementTarget:
        if self.seen_key(item.idempotency_key):
            key = item.idempotency_key
            msg = f"idempotency_key {key!r}: a statement with this key was already received"
            raise Rejected(msg)
        return checks.statement_target(self.defn, self.state, item, workflow.now())

    @workflow.update
    async def submit_statement(self, raw: Any) -> m.StatementReceipt:
        data = _parse(m.StatementInput, raw, handler=True)
        await self._until_ready()
        try:
            target = self._check_statement(data)
        except Rejected as err:
            raise _reject(err) from err
        record, receipt = self._statement(data, target)
        self.enqueue(record, "update", data.idempotency_key)
        dup = await self.wait_stored([record.statement_id])
        return receipt.model_copy(update={"duplicate": dup[record.statement_id]})

    @submit_statement.validator
    def validate_submit_statement(self, raw: Any) -> None:
        data = _parse(m.StatementInput, raw)
        if self._ready:
            self._check_statement(data)

    @workflow.update
    async def submit_statements(self, raw: Any) -> m.StatementsReceipt:
        """A batch: every statement is checked on its own; bad ones come back as errors."""
        try:
            items = self._batch_items(raw)
        except Rejected as err:
            raise _reject(err) from err
        await self._until_ready()
        try:
            self._check_batch(items)
        except Rejected as err:
            raise _reject(err) from err
        receipts: list[m.StatementReceipt] = []
        errors: list[m.ItemError] = []
        ids = []
        for index, item in enumerate(items):
            key = item.get("idempotency_key") if isinstance(item, dict) else None
            try:
                parsed = _parse(m.StatementInput, item)
                target = self._check_statement(parsed)
            except Rejected as err:
                errors.append(
                    m.ItemError(index=index, idempotency_key=_key_text(key), message=str(err))
                )
                continue
            record, receipt = self._statement(parsed, target)
            self.enqueue(record, "update", parsed.idempotency_key)
            ids.append(record.statement_id)
            receipts.append(receipt)
        dups = await self.wait_stored(ids)
        return m.StatementsReceipt(
            receipts=[r.model_copy(update={"duplicate": dups[r.id]}) for r in receipts],
            errors=errors,
        )

    def _batch_items(self, raw: Any) -> list[Any]:
        """The envelope must be `{"statements": [...]}`; items are parsed one by one later."""
        if isinstance(raw, m.SubmitStatementsInput):
            return [s.model_dump(mode="json") for s in raw.statements]
        items = raw.get("statements") if isinstance(raw, dict) else None
        if not isinstance(items, list) or not items:
            msg = "statements: expected a non-empty list of statements"
            raise Rejected(msg)
        return items

    def _check_batch(self, items: list[Any]) -> None:
        limit = self.state.start.limits.max_batch
        if len(items) > limit:
            msg = f"statements: {len(items)} in one batch, at most {limit} allowed"
            raise Rejected(msg)
        checks.require_active(self.state)
        keys = [i.get("idempotency_key") for i in items if isinstance(i, dict)]
        keys = [k for k in keys if k is not None]
        if len(set(map(str, keys))) != len(keys):
            msg = "statements: the same idempotency_key appears twice in one batch"
            raise Rejected(msg)

    @submit_statements.validator
    def validate_submit_statements(self, raw: Any) -> None:
        items = self._batch_items(raw)
        if self._ready:
            self._check_batch(items)

    @workflow.signal
    def post_statement(self, raw: Any) -> None:
        """Fire-and-forget intake for integrators; the receipt is a `statement.received` event.

        Signals cannot be refused, so a bad one is recorded as a `statement.rejected` event
        (key and problem, no content); a repeated idempotency key changes nothing.
        """
        self._signals += 1
        if not self._ready:
            self._early_signals.append(raw)
            return
        self._accept_signal(raw)

    def _accept_signal(self, raw: Any) -> None:
        key = raw.get("idempotency_key") if isinstance(raw, dict) else None
        try:
            item = m.StatementInput.model_validate(raw)
            if self.seen_key(item.idempotency_key):
                return  # a repeat: nothing changes
            target = checks.statement_target(self.defn, self.state, item, workflow.now())
        except (ValidationError, Rejected) as err:
            problem = m.first_error(err) if isinstance(err, ValidationError) else str(err)
            self._rejected_signals.append({"idempotency_key": str(key)[:200], "problem": problem})
            self.wake()
            return
        record, _ = self._statement(item, target)
        self.enqueue(record, "signal", item.idempotency_key)

    # ================================================================== participants, votes

    @workflow.update
    async def register(self, raw: Any) -> m.Receipt:
        data = _parse(m.RegisterInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_register(self.defn, self.state, data)
        except Rejected as err:
            raise _reject(err) from err
        st = self.state
        st.remember_key("registration", data.idempotency_key)
        pid = stable_id(st.procedure_id, "participant", data.idempotency_key)
        phase = self.defn.phase(st.phase_id or "")
        await self.call(
            c.REGISTER_PARTICIPANT,
            c.RegisterParticipantInput(
                participant=ParticipantRecord(
                    procedure_id=st.procedure_id,
                    participant_id=pid,
                    role=data.role,
                    name=data.name,
                    email=data.email,
                    address=data.address,
                    organisation=data.organisation,
                    language=data.language,
                    registered_at=workflow.now(),
                )
            ),
            c.StoreResult,
        )
        st.participants[pid] = data.role
        st.bump("participants")
        st.bump_visit("signatures" if phase.accepts.signatures else "registrations")
        self.wake()
        return self._receipt(pid, data)

    @register.validator
    def validate_register(self, raw: Any) -> None:
        data = _parse(m.RegisterInput, raw)
        if self._ready:
            checks.check_register(self.defn, self.state, data)

    def _receipt(self, id_: str, data: Any) -> m.Receipt:
        st = self.state
        return m.Receipt(
            id=id_,
            idempotency_key=data.idempotency_key,
            received_at=workflow.now(),
            phase_id=st.phase_id or "",
            round=st.round,
            sha256=m.canonical_digest(data),
        )

    def _vote_id(self, data: m.CastVoteInput) -> str:
        return stable_id(self.state.procedure_id, "vote", data.proposal_id, data.voter_ref)

    @workflow.update
    async def cast_vote(self, raw: Any) -> m.Receipt:
        data = _parse(m.CastVoteInput, raw, handler=True)
        await self._until_ready()
        vote_id = self._vote_id(data)
        try:
            checks.check_vote(self.defn, self.state, data, vote_id)
        except Rejected as err:
            raise _reject(err) from err
        st = self.state
        st.remember_key("vote", data.idempotency_key)
        st.vote_keys.append(vote_id)
        receipt = self._receipt(vote_id, data)
        await self.call(
            c.STORE_VOTE,
            c.StoreVoteInput(
                vote=VoteRecord(
                    procedure_id=st.procedure_id,
                    vote_id=vote_id,
                    round=st.round,
                    phase_id=receipt.phase_id,
                    proposal_id=data.proposal_id,
                    voter_ref=data.voter_ref,
                    choice=data.choice,
                    cast_at=receipt.received_at,
                    receipt_digest=receipt.sha256,
                )
            ),
            c.StoreResult,
        )
        tally = st.votes.setdefault(data.proposal_id, {})
        tally[data.choice] = tally.get(data.choice, 0) + 1
        st.bump("votes")
        st.bump_visit("votes")
        self.wake()
        return receipt

    @cast_vote.validator
    def validate_cast_vote(self, raw: Any) -> None:
        data = _parse(m.CastVoteInput, raw)
        if self._ready:
            checks.check_vote(self.defn, self.state, data, self._vote_id(data))

    # ================================================================== outcome

    @workflow.update
    async def record_decision(self, raw: Any) -> m.Receipt:
        data = _parse(m.RecordDecisionInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_decision(self.defn, self.state, data)
        except Rejected as err:
            raise _reject(err) from err
        st = self.state
        st.remember_key("decision", data.idempotency_key)
        did = stable_id(st.procedure_id, "decision", data.idempotency_key)
        receipt = self._receipt(did, data)
        await self.call(
            c.STORE_DECISION,
            c.StoreDecisionInput(
                decision=DecisionRecord(
                    procedure_id=st.procedure_id,
                    decision_id=did,
                    round=st.round,
                    phase_id=receipt.phase_id,
                    body=data.role,
                    outcome=data.outcome,
                    title=data.title,
                    text=data.text,
                    decided_at=receipt.received_at,
                    receipt_digest=receipt.sha256,
                )
            ),
            c.StoreResult,
        )
        if data.outcome in checks.DRAFT_OUTCOMES:
            st.conditions["draft_changed"] = data.outcome == "draft_changed"
        else:
            st.decision = data.outcome
        st.bump("decisions")
        await self.emit(
            "decision.recorded",
            {"decision_id": did, "body": data.role, "outcome": data.outcome},
            summary=data.title,
        )
        if data.ends_phase:
            st.advance_requested = True
        self.wake()
        return receipt

    @record_decision.validator
    def validate_record_decision(self, raw: Any) -> None:
        data = _parse(m.RecordDecisionInput, raw)
        if self._ready:
            checks.check_decision(self.defn, self.state, data)

    @workflow.update
    async def add_commitment(self, raw: Any) -> m.Receipt:
        data = _parse(m.AddCommitmentInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_commitment(self.defn, self.state, data, self.today())
        except Rejected as err:
            raise _reject(err) from err
        st = self.state
        st.remember_key("commitment", data.idempotency_key)
        cid = stable_id(st.procedure_id, "commitment", data.idempotency_key)
        receipt = self._receipt(cid, data)
        await self.call(
            c.STORE_COMMITMENT,
            c.StoreCommitmentInput(
                commitment=CommitmentRecord(
                    procedure_id=st.procedure_id,
                    commitment_id=cid,
                    phase_id=receipt.phase_id,
                    owner_role=data.owner_role,
                    owner_organisation=data.owner_organisation,
                    title=data.title,
                    measurable_aim=data.measurable_aim,
                    due_date=data.due_date,
                    created_at=receipt.received_at,
                    receipt_digest=receipt.sha256,
                )
            ),
            c.StoreResult,
        )
        st.commitments[cid] = m.CommitmentView(
            commitment_id=cid,
            title=data.title,
            owner_role=data.owner_role,
            owner_organisation=data.owner_organisation,
            measurable_aim=data.measurable_aim,
            due_date=data.due_date,
            status="open",
        )
        st.bump("commitments")
        await self.emit(
            "commitment.added",
            {"commitment_id": cid, "owner_role": data.owner_role, "due_date": str(data.due_date)},
            summary=data.title,
        )
        self.wake()
        return receipt

    @add_commitment.validator
    def validate_add_commitment(self, raw: Any) -> None:
        data = _parse(m.AddCommitmentInput, raw)
        if self._ready:
            checks.check_commitment(self.defn, self.state, data, self.today())

    @workflow.update
    async def report_progress(self, raw: Any) -> m.Receipt:
        data = _parse(m.ReportProgressInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_progress(self.defn, self.state, data)
        except Rejected as err:
            raise _reject(err) from err
        st = self.state
        st.remember_key("progress", data.idempotency_key)
        rid = stable_id(st.procedure_id, "progress", data.idempotency_key)
        receipt = self._receipt(rid, data)
        await self.call(
            c.STORE_PROGRESS_REPORT,
            c.StoreProgressReportInput(
                report=ProgressReportRecord(
                    procedure_id=st.procedure_id,
                    report_id=rid,
                    commitment_id=data.commitment_id,
                    phase_id=receipt.phase_id,
                    status=data.status,
                    progress_percent=data.progress_percent,
                    text=data.text,
                    reporter_ref=data.reporter_ref,
                    reported_at=receipt.received_at,
                    receipt_digest=receipt.sha256,
                )
            ),
            c.StoreResult,
        )
        st.commitments[data.commitment_id] = st.commitments[data.commitment_id].model_copy(
            update={"status": data.status, "progress_percent": data.progress_percent}
        )
        st.bump("progress_reports")
        await self.emit(
            "commitment.progress",
            {"commitment_id": data.commitment_id, "status": data.status},
            summary=f"{data.progress_percent} %",
        )
        self.wake()
        return receipt

    @report_progress.validator
    def validate_report_progress(self, raw: Any) -> None:
        data = _parse(m.ReportProgressInput, raw)
        if self._ready:
            checks.check_progress(self.defn, self.state, data)

    # ================================================================== administration

    @workflow.update
    async def admin_extend_deadline(self, raw: Any) -> m.Receipt:
        data = _parse(m.AdminExtendDeadlineInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_extend(self.defn, self.state, data)
        except Rejected as err:
            raise _reject(err) from err
        st = self.state
        st.remember_key("admin", data.idempotency_key)
        old = st.phase_end
        st.phase_end = data.new_end
        st.next_deadline = calendar.deadline_instant(data.new_end)
        if st.last_hearing == st.phase_id:
            st.last_hearing_deadline = st.next_deadline
        now = workflow.now()
        phase = self.defn.phase(st.phase_id or "")
        st.reminders_sent = [
            d for d, at in rules.reminder_instants(phase, st.next_deadline) if at <= now
        ]
        self.wake()  # the phase loop re-arms its timer with the new deadline
        self.publish_visibility()
        await self.emit(
            "deadline.extended",
            {
                "from": old.isoformat() if old else None,
                "to": data.new_end.isoformat(),
                "reason": data.reason,
            },
            summary=f"Frist verlängert bis {data.new_end.isoformat()}",
        )
        return self._receipt(self.next_id("admin"), data)

    @admin_extend_deadline.validator
    def validate_admin_extend_deadline(self, raw: Any) -> None:
        data = _parse(m.AdminExtendDeadlineInput, raw)
        if self._ready:
            checks.check_extend(self.defn, self.state, data)

    async def _admin(self, data: Any, wants: str) -> m.Receipt:
        await self._until_ready()
        try:
            checks.check_admin(self.defn, self.state, data.role, data.idempotency_key, wants=wants)
        except Rejected as err:
            raise _reject(err) from err
        st = self.state
        st.remember_key("admin", data.idempotency_key)
        receipt = self._receipt(self.next_id("admin"), data)
        if wants == "advance":
            st.advance_requested = True
            if data.outcome:
                st.decision = data.outcome
                st.conditions[data.outcome] = True
        elif wants == "pause":
            st.life = "paused"
        elif wants == "resume":
            st.life = "running"
        elif wants == "cancel":
            st.life = "cancelled"
            st.reason = data.reason
            st.next_deadline = None
        self.wake()
        self.publish_visibility()
        await self.emit(f"procedure.{wants}", {"reason": data.reason}, summary=data.reason)
        return receipt

    @workflow.update
    async def admin_advance(self, raw: Any) -> m.Receipt:
        data = _parse(m.AdminAdvanceInput, raw, handler=True)
        return await self._admin(data, "advance")

    @admin_advance.validator
    def validate_admin_advance(self, raw: Any) -> None:
        data = _parse(m.AdminAdvanceInput, raw)
        if self._ready:
            checks.check_admin(
                self.defn, self.state, data.role, data.idempotency_key, wants="advance"
            )

    @workflow.update
    async def admin_pause(self, raw: Any) -> m.Receipt:
        data = _parse(m.AdminPauseInput, raw, handler=True)
        return await self._admin(data, "pause")

    @admin_pause.validator
    def validate_admin_pause(self, raw: Any) -> None:
        data = _parse(m.AdminPauseInput, raw)
        if self._ready:
            checks.check_admin(
                self.defn, self.state, data.role, data.idempotency_key, wants="pause"
            )

    @workflow.update
    async def admin_resume(self, raw: Any) -> m.Receipt:
        data = _parse(m.AdminResumeInput, raw, handler=True)
        return await self._admin(data, "resume")

    @admin_resume.validator
    def validate_admin_resume(self, raw: Any) -> None:
        data = _parse(m.AdminResumeInput, raw)
        if self._ready:
            checks.check_admin(
                self.defn, self.state, data.role, data.idempotency_key, wants="resume"
            )

    @workflow.update
    async def admin_cancel(self, raw: Any) -> m.Receipt:
        data = _parse(m.AdminCancelInput, raw, handler=True)
        return await self._admin(data, "cancel")

    @admin_cancel.validator
    def validate_admin_cancel(self, raw: Any) -> None:
        data = _parse(m.AdminCancelInput, raw)
        if self._ready:
            checks.check_admin(
                self.defn, self.state, data.role, data.idempotency_key, wants="cancel"
            )

    # ================================================================== queries

    @workflow.query
    def status(self) -> m.ProcedureStatus:
        if not self._ready:
            msg = "the procedure is starting; its definition is being loaded"
            raise ApplicationError(msg)
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
            counts={**st.counts, "pending": len(self._pending) + len(st.carried)},
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
