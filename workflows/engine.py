"""Platform mechanics of `Procedure`, kept apart from the procedure's own logic.

Calling activities (events, notifications, storage), batching statement intake, keeping
search attributes and the Web UI details current, deciding when to continue as new. The
workflow class in `workflows.procedure` inherits this and adds handlers and the phase loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    import activities.contracts as c
    import definitions.calendar as calendar
    import workflows.messages as m
    import workflows.rules as rules
    import workflows.visibility as visibility
    from activities.records import EventRecord, NotificationRequest, StatementRecord, stable_id
    from definitions.schema import Definition, Phase
    from workflows.errors import Code, Rejected
    from workflows.messages import StatementSummary, TimelineEntry
    from workflows.payloads import key_text, parse_payload, payload_code, reject, sandbox_stable_id
    from workflows.state import CarriedStatement, ProcedureState

__all__ = [  # the payload helpers are re-exported: handler modules import them from here
    "ACTIVITY_TIMEOUT",
    "EngineBase",
    "key_text",
    "parse_payload",
    "payload_code",
    "reject",
    "sandbox_stable_id",
]

ACTIVITY_TIMEOUT = timedelta(seconds=60)
# Storage outages are retried forever with backoff: a procedure waits for its database
# rather than losing a statement. Bad input never reaches an activity (validators).
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))
MAX_HISTORY_BYTES = 20 * 1024 * 1024  # well below Temporal's 50 MB
CARRY_BUDGET = 1_000_000
"""Bytes of statements a draining run carried into the next one before the patch
`carry-within-payload-warning` (histories recorded before it replay with this budget)."""
CAN_INPUT_BUDGET = 448 * 1024
"""Bytes the continue-as-new input (the state plus carried statements) may take: below
Temporal's 512 KB payload warning, far below its 2 MB limit. What the state itself takes
(mostly the retained statement summaries) is measured when the drain starts; statements
carried beyond the rest wait for the flusher as usual (validators refuse new ones then)."""
CARRIED_OVERHEAD = 400  # estimate per carried statement besides its text (before the patch)
CARRIED_JSON = 450  # bytes of JSON per carried statement besides its text and key (measured)


class EngineBase:
    """State, activity calls and run-local bookkeeping shared by handlers and phase runners."""

    state: ProcedureState
    defn: Definition

    def __init__(self) -> None:
        self._ready = False
        self._start_failure: str | None = None  # why the start failed (waiting updates say it)
        self._wake = 0  # bumped on every change the phase loop must look at
        self._pending: list[tuple[StatementRecord, str, str]] = []  # record, via, key
        self._flushing = False
        self._stored: dict[str, bool] = {}  # statement_id -> duplicate, until its handler reads it
        self._run_keys: set[str] = set()  # statement idempotency keys seen in this run
        self._updates = 0
        self._signals = 0
        self._stopping = False
        self._draining = False
        self._carried_bytes = 0  # size of the statements carried so far (bounded)
        self._carry_budget = CARRY_BUDGET
        self._carry_measured = False  # patch carry-within-payload-warning in effect
        self._carried_ids: set[str] = set()
        self._early_signals: list[Any] = []  # arrived before the definition was loaded
        self._rejected_signals: list[dict[str, str]] = []  # become statement.rejected events
        # Running totals of what went to the flusher and what it finished, per queue: the
        # end of a hearing waits for what was received before it, not for an idle intake.
        self._queued_statements = 0
        self._stored_statements = 0
        self._queued_rejections = 0
        self._recorded_rejections = 0

    # ------------------------------------------------------------------ small helpers

    async def _until_ready(self) -> None:
        """Updates that arrive while the definition loads wait instead of being refused; if
        the start fails, they are refused with PROCEDURE_NOT_READY saying why."""
        self._updates += 1
        await workflow.wait_condition(lambda: self._ready or self._start_failure is not None)
        if not self._ready:
            why = f"the procedure did not start: {self._start_failure}"
            raise reject(Rejected(Code.PROCEDURE_NOT_READY, why))

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

    def wake(self) -> None:
        self._wake += 1

    def wake_count(self) -> int:
        return self._wake

    def today(self) -> date:
        return calendar.berlin_date(workflow.now())

    def next_id(self, kind: str) -> str:
        """A stable id from the workflow id and the state's event sequence."""
        self.state.event_seq += 1
        return stable_id(self.state.procedure_id, kind, str(self.state.event_seq))

    async def call(self, name: str, arg: Any, result_type: type[Any]) -> Any:
        return await workflow.execute_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    async def call_local(self, name: str, arg: Any, result_type: type[Any]) -> Any:
        """A short read on this worker (the definition files): no task-queue round trip; the
        result lands in the history as a marker, just as an activity's would."""
        return await workflow.execute_local_activity(
            name,
            arg,
            result_type=result_type,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RETRY,
        )

    # ------------------------------------------------------------------ events, notifications

    def event(
        self, type_: str, payload: dict[str, Any], *, event_id: str | None = None
    ) -> EventRecord:
        st = self.state
        return EventRecord(
            procedure_id=st.procedure_id,
            event_id=event_id or self.next_id("event"),
            type=type_,
            occurred_at=workflow.now(),
            phase_id=st.phase_id,
            round=st.round,
            payload=payload,
        )

    async def emit(
        self,
        type_: str,
        payload: dict[str, Any],
        *,
        notifications: Sequence[NotificationRequest] = (),
        summary: str = "",
    ) -> None:
        """Append one audit event (and the notifications it causes) and note it in the timeline."""
        record = self.event(type_, payload)
        notes = [n.model_copy(update={"cause_event_id": record.event_id}) for n in notifications]
        await self.call(
            c.APPEND_EVENTS,
            c.AppendEventsInput(
                procedure_id=self.state.procedure_id, events=[record], notifications=notes
            ),
            c.AppendEventsResult,
        )
        self.note(record, summary)

    def note(self, record: EventRecord, summary: str = "") -> None:
        """The stored event in the timeline (the status query and the Web UI show it)."""
        self.state.add_timeline(
            TimelineEntry(
                at=record.occurred_at,
                type=record.type,
                phase_id=record.phase_id,
                round=record.round,
                summary=summary,
            )
        )

    def notifications(
        self, phase: Phase, when: str, days_before: int | None = None
    ) -> list[NotificationRequest]:
        """The phase's notifications for `when`, with ids stable per phase visit."""
        st = self.state
        visit = str(st.phase_visits.get(phase.id, 0))
        out = []
        for n in phase.notifications:
            if n.when != when or n.days_before != days_before:
                continue
            audience = st.limited_to if st.limited_to and when == "on_start" else n.audience
            out.append(
                NotificationRequest(
                    procedure_id=st.procedure_id,
                    notification_id=stable_id(
                        st.procedure_id,
                        "notify",
                        phase.id,
                        str(st.round),
                        visit,
                        n.template,
                        when,
                        str(days_before or 0),
                    ),
                    template=n.template,
                    audience=audience,
                    context=self.notification_context(phase),
                )
            )
        return out

    def notification_context(self, phase: Phase) -> dict[str, Any]:
        st = self.state
        return {
            "procedure_title": st.start.title,
            "definition_id": self.defn.id,
            "phase_id": phase.id,
            "phase_title": phase.title.model_dump(),
            "round": st.round,
            "period_start": st.phase_started.isoformat() if st.phase_started else None,
            "period_end": st.phase_end.isoformat() if st.phase_end else None,
        }

    async def send(self, notes: list[NotificationRequest]) -> None:
        if notes:
            await self.call(
                c.SEND_NOTIFICATIONS,
                c.SendNotificationsInput(procedure_id=self.state.procedure_id, notifications=notes),
                c.SendNotificationsResult,
            )

    # ------------------------------------------------------------------ visibility

    def publish_visibility(self) -> None:
        """Search attributes and the Web UI's markdown details; never personal data."""
        st = self.state
        updates: list[SearchAttributeUpdate[Any]] = [
            visibility.PROCEDURE_KIND.value_set(self.defn.kind),
            visibility.MUNICIPALITY.value_set(st.start.municipality),
            visibility.PROCEDURE_STATE.value_set(st.life),
            visibility.PHASE.value_set(st.phase_id or "none"),
            visibility.NEXT_DEADLINE.value_set(st.next_deadline)
            if st.next_deadline is not None
            else visibility.NEXT_DEADLINE.value_unset(),
        ]
        workflow.upsert_search_attributes(updates)
        workflow.set_current_details(rules.details_markdown(self.defn, st))

    # ------------------------------------------------------------------ statement intake

    def enqueue(self, record: StatementRecord, via: str, key: str) -> None:
        """Queue a statement for the flusher, or, while draining, carry it to the next run."""
        self._run_keys.add(key)
        size = len(record.text) + CARRIED_OVERHEAD
        if self._carry_measured:  # count bytes as the payload will
            size = len(record.text.encode()) + len(key) + CARRIED_JSON
        # Once the flusher has stopped (`_stopping`), nothing would store a pending
        # statement, so late arrivals (signals only: validators refuse updates by then)
        # are carried whatever the budget.
        budget = self._carry_budget
        if self._draining and (self._stopping or self._carried_bytes + size <= budget):
            self._carried_bytes += size
            self._carried_ids.add(record.statement_id)
            self.state.carried.append(CarriedStatement(record=record, via=via, key=key))
        else:
            self._pending.append((record, via, key))
            self._queued_statements += 1

    def restore_carried(self) -> None:
        """First thing in a continued run: statements accepted while the last one drained."""
        for item in self.state.carried:
            self._run_keys.add(item.key)
            self._pending.append((item.record, "carried", item.key))
            self._queued_statements += 1
        self.state.carried = []

    def refuse_while_continuing(self) -> None:
        """Validators of the many-per-procedure updates (statements, votes, registrations)
        refuse, with a retryable code, while the run drains for continue-as-new.

        The drain ends only when intake is idle and every handler has returned; submitters
        that never pause would otherwise keep it busy for good (each accepted update brings
        new work), the run would never continue and the server would terminate it at its
        history limit, failing every accepted update (`AcceptedUpdateCompletedWorkflow`).
        A refused update leaves no trace in the history; the client sends it again and the
        next run accepts it. Validators do not run on replay, so histories are unaffected.
        """
        if self._draining:
            msg = (
                "the procedure is moving to a new run (continue-as-new); "
                "send the same request again in a moment"
            )
            raise Rejected(Code.PROCEDURE_CONTINUING, msg)

    def seen_key(self, key: str) -> bool:
        return key in self._run_keys

    async def wait_stored(self, ids: Sequence[str]) -> dict[str, bool]:
        """Wait until the flusher stored these statements; their duplicate flags.

        While draining for continue-as-new, statements up to `CARRY_BUDGET` travel in the
        carried state and the receipt goes back at once (the update is in the history; the
        next run stores them first), so handlers rarely hold the old run open.
        """
        carried = {i for i in ids if i in self._carried_ids}
        rest = [i for i in ids if i not in carried]
        await workflow.wait_condition(lambda: all(i in self._stored for i in rest))
        return {i: False if i in carried else self._stored.pop(i) for i in ids}

    async def flusher(self) -> None:
        """Single writer: takes pending statements in batches, stores them, appends events."""
        while True:
            await workflow.wait_condition(
                lambda: bool(self._pending or self._rejected_signals) or self._stopping
            )
            if self._rejected_signals:
                rejected, self._rejected_signals = self._rejected_signals, []
                self._flushing = True
                try:
                    await self._record_rejections(rejected)
                finally:
                    self._flushing = False
                self._recorded_rejections += len(rejected)
                continue
            if not self._pending:
                return
            size = self.state.start.limits.store_batch
            batch, self._pending = self._pending[:size], self._pending[size:]
            self._flushing = True
            try:
                await self._store_batch(batch)
            finally:
                self._flushing = False
            self._stored_statements += len(batch)

    async def _record_rejections(self, rejected: list[dict[str, str]]) -> None:
        events = [self.event("statement.rejected", item) for item in rejected]
        self.state.bump("rejected_signals", len(events))
        await self.call(
            c.APPEND_EVENTS,
            c.AppendEventsInput(procedure_id=self.state.procedure_id, events=events),
            c.AppendEventsResult,
        )

    async def _store_batch(self, batch: list[tuple[StatementRecord, str, str]]) -> None:
        st = self.state
        records = [r for r, _, _ in batch]
        result: c.StoreStatementsResult = await self.call(
            c.STORE_STATEMENTS,
            c.StoreStatementsInput(procedure_id=st.procedure_id, statements=records),
            c.StoreStatementsResult,
        )
        # a retried call whose first commit went through reports its own rows as duplicates
        # with the same content: they were stored by this batch, not before it
        duplicates = set(result.duplicate_ids) - set(result.same_content_ids)
        events = []
        now = workflow.now()
        for record, via, key in batch:
            if record.statement_id in duplicates:
                st.bump("duplicates")
                continue
            st.bump("statements")
            st.bump("late" if record.late else "on_time")
            st.bump_visit("statements")
            if record.statement_type == "proposal":
                st.bump_visit("proposals")
            st.recent_statements.append(
                StatementSummary(
                    sequence=record.sequence,
                    statement_id=record.statement_id,
                    phase_id=record.phase_id,
                    round=record.round,
                    statement_type=record.statement_type,
                    late=record.late,
                    received_at=record.received_at,
                )
            )
            events.append(
                EventRecord(
                    procedure_id=st.procedure_id,
                    event_id=sandbox_stable_id(
                        st.procedure_id, "statement.received", record.statement_id
                    ),
                    type="statement.received",
                    occurred_at=now,
                    phase_id=record.phase_id,  # the statement's phase visit, not the current
                    round=record.round,
                    payload={
                        "statement_id": record.statement_id,
                        "idempotency_key": key,
                        "sequence": record.sequence,
                        "statement_type": record.statement_type,
                        "late": record.late,
                        "receipt_digest": record.receipt_digest,
                        "via": via,
                    },
                )
            )
        keep = st.start.limits.retained_statements
        del st.recent_statements[: max(0, len(st.recent_statements) - keep)]
        if events:
            await self.call(
                c.APPEND_EVENTS,
                c.AppendEventsInput(procedure_id=st.procedure_id, events=events),
                c.AppendEventsResult,
            )
        # Handlers return only now: when the last one finishes, intake is idle too, which is
        # the quiet moment continue-as-new waits for.
        for record, via, _ in batch:
            if via == "update":
                self._stored[record.statement_id] = record.statement_id in duplicates
        self.wake()

    def intake_idle(self) -> bool:
        return not self._pending and not self._rejected_signals and not self._flushing

    def reject_signal(self, key: str, problem: str) -> None:
        """A signal that cannot be accepted: recorded as a `statement.rejected` event."""
        self._rejected_signals.append({"idempotency_key": key, "problem": problem})
        self._queued_rejections += 1
        self.wake()

    async def drain_intake(self) -> None:
        """Wait until every statement received so far is stored (counts are final).

        Only what was received before the call: statements that keep arriving (late ones,
        after the deadline) must not keep a hearing from closing. Histories recorded before
        the patch `drain-intake-received-so-far` waited for an idle intake.
        """
        if not workflow.patched("drain-intake-received-so-far"):
            await workflow.wait_condition(self.intake_idle)
            return
        statements, rejections = self._queued_statements, self._queued_rejections
        await workflow.wait_condition(
            lambda: (
                self._stored_statements >= statements and self._recorded_rejections >= rejections
            )
        )

    # ------------------------------------------------------------------ continue-as-new

    def continue_as_new_due(self) -> bool:
        """Before Temporal's per-run limits, or when the server suggests it."""
        limits = self.state.start.limits
        info = workflow.info()
        return (
            self._updates >= limits.max_updates_per_run
            or self._signals >= limits.max_signals_per_run
            or info.get_current_history_length() >= limits.max_history_events
            or info.get_current_history_size() >= MAX_HISTORY_BYTES
            or info.is_continue_as_new_suggested()
        )

    async def drain(self, *, carry: bool = True) -> None:
        """Wait until intake is stored and every handler finished (no unfinished updates).

        From here on validators refuse statements, votes and registrations with the
        retryable `PROCEDURE_CONTINUING` (`refuse_while_continuing`), so the wait ends even
        when submitters never pause; their clients send again and the next run accepts.
        Statements of updates accepted just before, and signals (which cannot be refused),
        are carried to the next run while the continue-as-new input stays within
        `CAN_INPUT_BUDGET`; the rest is stored first. At the end of a procedure
        (`carry=False`) there is no next run, and validators refuse statements anyway.
        """
        self._draining = carry
        if carry and workflow.patched("carry-within-payload-warning"):
            state_bytes = len(self.state.model_dump_json())
            self._carry_budget = max(0, CAN_INPUT_BUDGET - state_bytes)
            self._carry_measured = True
        await workflow.wait_condition(
            lambda: self.intake_idle() and workflow.all_handlers_finished()
        )
