"""Administration: extend a deadline, advance, pause, resume, cancel (with a reason)."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import definitions.calendar as calendar
    import workflows.checks as checks
    import workflows.messages as m
    import workflows.rules as rules
    from workflows.engine import EngineBase, parse_payload, reject
    from workflows.errors import Rejected

__all__ = ["PATCH_ADVANCE_BEFORE_ENTRY", "PATCH_EVENT_BEFORE_WAKE", "AdminHandlers"]

PATCH_EVENT_BEFORE_WAKE = "admin-event-before-wake"
"""Patch id: remove the old branch once no procedure started before it is running."""

PATCH_ADVANCE_BEFORE_ENTRY = "advance-before-entry"
"""Patch id: an advance received before its phase was entered is kept (was: lost on entry)."""


class AdminHandlers(EngineBase):
    """Updates for administrators; each needs a role of the definition."""

    advance_on_entry: str | None = None
    """An advance acknowledged before its phase was entered (during the start, or while a
    transition is written), with its outcome ("" for none). The phase entry applies it to
    the visit the receipt named instead of resetting it. Run-local on purpose: a run never
    continues as new between a transition and the next phase's entry."""

    # ================================================================== administration

    @workflow.update
    async def admin_extend_deadline(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.AdminExtendDeadlineInput, raw, handler=True)
        await self._until_ready()
        try:
            checks.check_extend(self.defn, self.state, data)
        except Rejected as err:
            raise reject(err) from err
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
        data = parse_payload(m.AdminExtendDeadlineInput, raw)
        if self._ready:
            checks.check_extend(self.defn, self.state, data)

    async def _admin(self, data: Any, wants: str) -> m.Receipt:
        await self._until_ready()
        try:
            checks.check_admin(self.defn, self.state, data.role, data.idempotency_key, wants=wants)
        except Rejected as err:
            raise reject(err) from err
        st = self.state
        st.remember_key("admin", data.idempotency_key)
        receipt = self._receipt(self.next_id("admin"), data)
        if wants == "advance":
            if not st.phase_entered:
                self.advance_on_entry = data.outcome or ""
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
        # State first (validators of concurrent updates see it), the audit event next, and only
        # then wake the phase loop, so the log shows e.g. the resume before the phase it ends.
        # Procedures started before this change woke the loop first; the patch keeps their
        # histories replaying (tests/histories) while new ones take the new order.
        if workflow.patched(PATCH_EVENT_BEFORE_WAKE):
            self.publish_visibility()
            await self.emit(f"procedure.{wants}", {"reason": data.reason}, summary=data.reason)
            self.wake()
        else:
            self.wake()
            self.publish_visibility()
            await self.emit(f"procedure.{wants}", {"reason": data.reason}, summary=data.reason)
        return receipt

    @workflow.update
    async def admin_advance(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.AdminAdvanceInput, raw, handler=True)
        return await self._admin(data, "advance")

    @admin_advance.validator
    def validate_admin_advance(self, raw: Any) -> None:
        data = parse_payload(m.AdminAdvanceInput, raw)
        if self._ready:
            checks.check_admin(
                self.defn, self.state, data.role, data.idempotency_key, wants="advance"
            )

    @workflow.update
    async def admin_pause(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.AdminPauseInput, raw, handler=True)
        return await self._admin(data, "pause")

    @admin_pause.validator
    def validate_admin_pause(self, raw: Any) -> None:
        data = parse_payload(m.AdminPauseInput, raw)
        if self._ready:
            checks.check_admin(
                self.defn, self.state, data.role, data.idempotency_key, wants="pause"
            )

    @workflow.update
    async def admin_resume(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.AdminResumeInput, raw, handler=True)
        return await self._admin(data, "resume")

    @admin_resume.validator
    def validate_admin_resume(self, raw: Any) -> None:
        data = parse_payload(m.AdminResumeInput, raw)
        if self._ready:
            checks.check_admin(
                self.defn, self.state, data.role, data.idempotency_key, wants="resume"
            )

    @workflow.update
    async def admin_cancel(self, raw: Any) -> m.Receipt:
        data = parse_payload(m.AdminCancelInput, raw, handler=True)
        return await self._admin(data, "cancel")

    @admin_cancel.validator
    def validate_admin_cancel(self, raw: Any) -> None:
        data = parse_payload(m.AdminCancelInput, raw)
        if self._ready:
            checks.check_admin(
                self.defn, self.state, data.role, data.idempotency_key, wants="cancel"
            )
