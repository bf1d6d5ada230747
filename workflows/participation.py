"""Participation and outcome: `register`, `cast_vote`, `record_decision`, `add_commitment`,
`report_progress`. Each update is validated (`workflows.checks`), stored through its
activity, and answered with a receipt.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import activities.contracts as c
    import workflows.checks as checks
    import workflows.messages as m
    from activities.records import (
        CommitmentRecord,
        DecisionRecord,
        ParticipantRecord,
        ProgressReportRecord,
        VoteRecord,
        stable_id,
    )
    from workflows.engine import EngineBase, parse_payload, reject
    from workflows.errors import Rejected

__all__ = ["PATCH_DECISION_BEFORE_ENTRY", "ParticipationHandlers"]

PATCH_DECISION_BEFORE_ENTRY = "decision-before-entry"
"""Patch id: a `record_decision` acknowledged before its phase was entered takes effect in
that visit (was: its outcome and `ends_phase` were reset on entry); cf. `advance-before-entry`."""


class ParticipationHandlers(EngineBase):
    """Updates from participants, moderators and councils."""

    # ================================================================== participants, votes

    @workflow.update
    async def register(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.RegisterInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_register(self.defn, self.state, data)
        except Rejected as err:
            raise reject(err) from err
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
        data = parse_payload(m.RegisterInput, raw)
        self.refuse_while_continuing()
        if self._ready:
            checks.check_register(self.defn, self.state, data)

    def _vote_id(self, data: m.CastVoteInput) -> str:
        """One vote per voter, proposal and phase visit (a new round votes afresh)."""
        st = self.state
        visit = f"{st.phase_id}#{st.phase_visits.get(st.phase_id or '', 0)}"
        return stable_id(st.procedure_id, "vote", visit, data.proposal_id, data.voter_ref)

    @workflow.update
    async def cast_vote(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.CastVoteInput, raw, handler=True)
        await self._until_ready()
        vote_id = self._vote_id(data)
        try:
            checks.check_vote(self.defn, self.state, data, vote_id)
        except Rejected as err:
            raise reject(err) from err
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
        data = parse_payload(m.CastVoteInput, raw)
        self.refuse_while_continuing()
        if self._ready:
            checks.check_vote(self.defn, self.state, data, self._vote_id(data))

    # ================================================================== outcome

    @workflow.update
    async def record_decision(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.RecordDecisionInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_decision(self.defn, self.state, data)
        except Rejected as err:
            raise reject(err) from err
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
        applies = True  # to the visit the receipt names
        if not st.phase_entered and workflow.patched(PATCH_DECISION_BEFORE_ENTRY):
            # Acknowledged for a visit not yet entered (sent with the start, or while a
            # transition was written): entering resets the visit's decision and advance, so
            # apply them after it, unless the procedure ended or moved on meanwhile.
            await workflow.wait_condition(
                lambda: st.phase_entered or st.life in ("completed", "cancelled")
            )
            applies = st.phase_id == receipt.phase_id and st.life in ("running", "paused")
        if not applies:
            pass
        elif data.outcome in checks.DRAFT_OUTCOMES:
            st.conditions["draft_changed"] = data.outcome == "draft_changed"
        else:
            st.decision = data.outcome
        st.bump("decisions")
        await self.emit(
            "decision.recorded",
            {"decision_id": did, "body": data.role, "outcome": data.outcome},
            summary=data.title,
        )
        if data.ends_phase and applies:
            st.advance_requested = True
        self.wake()
        return receipt

    @record_decision.validator
    def validate_record_decision(self, raw: Any) -> None:
        data = parse_payload(m.RecordDecisionInput, raw)
        if self._ready:
            checks.check_decision(self.defn, self.state, data)

    @workflow.update
    async def add_commitment(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.AddCommitmentInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_commitment(self.defn, self.state, data, self.today())
        except Rejected as err:
            raise reject(err) from err
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
        data = parse_payload(m.AddCommitmentInput, raw)
        if self._ready:
            checks.check_commitment(self.defn, self.state, data, self.today())

    @workflow.update
    async def report_progress(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.ReportProgressInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_progress(self.defn, self.state, data)
        except Rejected as err:
            raise reject(err) from err
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
        data = parse_payload(m.ReportProgressInput, raw)
        if self._ready:
            checks.check_progress(self.defn, self.state, data)
