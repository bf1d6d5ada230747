"""Statement intake: `submit_statement`, the batch `submit_statements`, the `post_statement`
signal. Every statement gets a stable id from its idempotency key and goes to storage in
batches through the engine's single flusher.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    import workflows.checks as checks
    import workflows.messages as m
    from activities.records import StatementRecord
    from workflows.engine import EngineBase, key_text, parse_payload, reject, sandbox_stable_id
    from workflows.errors import Code, Rejected

__all__ = ["IntakeHandlers"]


class IntakeHandlers(EngineBase):
    """Updates and the signal that bring statements in."""

    # ================================================================== statements

    def _statement(
        self,
        item: m.StatementInput,
        target: checks.StatementTarget,
        now: datetime | None = None,
    ) -> tuple[StatementRecord, m.StatementReceipt]:
        """Record and receipt of an accepted statement; `now` once per batch saves a clock
        read per statement (it is the same within an activation)."""
        st = self.state
        st.statement_seq += 1
        sid = sandbox_stable_id(st.procedure_id, "statement", item.idempotency_key)
        digest = m.canonical_digest(item)
        now = now or workflow.now()
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

    def _check_statement(
        self, item: m.StatementInput, now: datetime | None = None
    ) -> checks.StatementTarget:
        if self.seen_key(item.idempotency_key):
            key = item.idempotency_key
            msg = f"idempotency_key {key!r}: a statement with this key was already received"
            raise Rejected(Code.DUPLICATE_IDEMPOTENCY_KEY, msg)
        return checks.statement_target(self.defn, self.state, item, now or workflow.now())

    @workflow.update
    async def submit_statement(self, raw: Any) -> m.StatementReceipt:
        data = parse_payload(m.StatementInput, raw, handler=True)
        await self._until_ready()
        try:
            target = self._check_statement(data)
        except Rejected as err:
            raise reject(err) from err
        record, receipt = self._statement(data, target)
        self.enqueue(record, "update", data.idempotency_key)
        dup = await self.wait_stored([record.statement_id])
        return receipt.model_copy(update={"duplicate": dup[record.statement_id]})

    @submit_statement.validator
    def validate_submit_statement(self, raw: Any) -> None:
        data = parse_payload(m.StatementInput, raw)
        self.refuse_while_continuing()
        if self._ready:
            self._check_statement(data)

    @workflow.update
    async def submit_statements(self, raw: Any) -> m.StatementsReceipt:
        """A batch: every statement is checked on its own; bad ones come back as errors."""
        try:
            items = self._batch_items(raw)
        except Rejected as err:
            raise reject(err) from err
        await self._until_ready()
        try:
            self._check_batch(items)
        except Rejected as err:
            raise reject(err) from err
        receipts: list[m.StatementReceipt] = []
        errors: list[m.ItemError] = []
        ids = []
        now = workflow.now()
        for index, item in enumerate(items):
            key = item.get("idempotency_key") if isinstance(item, dict) else None
            try:
                parsed = parse_payload(m.StatementInput, item)
                target = self._check_statement(parsed, now)
            except Rejected as err:
                errors.append(
                    m.ItemError(
                        index=index,
                        idempotency_key=key_text(key),
                        message=err.message,
                        code=err.code,
                    )
                )
                continue
            record, receipt = self._statement(parsed, target, now)
            self.enqueue(record, "update", parsed.idempotency_key)
            ids.append(record.statement_id)
            receipts.append(receipt)
        dups = await self.wait_stored(ids)
        return m.StatementsReceipt(
            receipts=[
                r.model_copy(update={"duplicate": True}) if dups[r.id] else r for r in receipts
            ],
            errors=errors,
        )

    def _batch_items(self, raw: Any) -> list[Any]:
        """The envelope must be `{"statements": [...]}`; items are parsed one by one later."""
        if isinstance(raw, m.SubmitStatementsInput):
            return [s.model_dump(mode="json") for s in raw.statements]
        items = raw.get("statements") if isinstance(raw, dict) else None
        if not isinstance(items, list) or not items:
            msg = "statements: expected a non-empty list of statements"
            raise Rejected(Code.INVALID_PAYLOAD, msg)
        return items

    def _check_batch(self, items: list[Any]) -> None:
        limit = self.state.start.limits.max_batch
        if len(items) > limit:
            msg = f"statements: {len(items)} in one batch, at most {limit} allowed"
            raise Rejected(Code.BATCH_TOO_LARGE, msg)
        checks.require_active(self.state)
        keys = [i.get("idempotency_key") for i in items if isinstance(i, dict)]
        keys = [k for k in keys if k is not None]
        if len(set(map(str, keys))) != len(keys):
            msg = "statements: the same idempotency_key appears twice in one batch"
            raise Rejected(Code.DUPLICATE_IDEMPOTENCY_KEY, msg)

    @submit_statements.validator
    def validate_submit_statements(self, raw: Any) -> None:
        items = self._batch_items(raw)
        self.refuse_while_continuing()
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
            problem = m.first_error(err) if isinstance(err, ValidationError) else err.message
            self.reject_signal(str(key)[:200], problem)
            return
        record, _ = self._statement(item, target)
        self.enqueue(record, "signal", item.idempotency_key)
