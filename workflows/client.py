"""Client-side intake helper for integrators: many statements, bounded concurrency, retries.

Temporal admits at most 10 updates in flight per workflow; beyond that the server answers
RESOURCE_EXHAUSTED ("limit on number of concurrent in-flight updates has been reached"), and
throughput collapses if every submitter just hammers it. `StatementSubmitter` cuts the
statements into `submit_statements` batches, keeps at most `max_in_flight` of them in flight
and retries with capped exponential backoff: RESOURCE_EXHAUSTED (which the SDK's core client
already retries for about 10 s before it reaches this helper), update timeouts, and the
procedure's own retryable refusal `PROCEDURE_CONTINUING` (the run drains for continue-as-new;
the next run accepts the batch). Each batch has a stable update id (derived from its
idempotency keys), so a retry whose first attempt did land in the same run returns the first
result instead of a second intake; in a later run the statement ids (from the keys) make
storage report the repeat as a duplicate instead of storing it twice.

This is client code shipped next to the messages it sends; workflow code never imports it.
Jitter is derived from the batch, not from `random`, which workflow modules may not use.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from temporalio.client import (
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from workflows.errors import RETRYABLE_CODES
from workflows.messages import (
    ItemError,
    StatementInput,
    StatementReceipt,
    StatementsReceipt,
    SubmitStatementsInput,
)

__all__ = ["RETRYABLE", "StatementSubmitter", "retryable"]

RETRYABLE = frozenset({RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE})
"""RPC failures worth retrying: the server is busy or briefly unreachable."""


def retryable(err: BaseException) -> bool:
    """Whether sending the same update again may succeed: the server was busy or briefly
    away, the call timed out, or the procedure refused with a retryable code."""
    if isinstance(err, WorkflowUpdateRPCTimeoutOrCancelledError):
        return True
    if isinstance(err, RPCError):
        return err.status in RETRYABLE
    if isinstance(err, WorkflowUpdateFailedError):
        cause = err.cause
        return (
            isinstance(cause, ApplicationError)
            and not cause.non_retryable
            and cause.type in RETRYABLE_CODES
        )
    return False


def _reason(err: BaseException) -> str:
    if isinstance(err, RPCError):
        return err.status.name
    if isinstance(err, WorkflowUpdateFailedError) and isinstance(err.cause, ApplicationError):
        return err.cause.type or "ApplicationError"
    return "timeout"


class StatementSubmitter:
    """Submit statements to one procedure in batches; see the module docstring."""

    def __init__(
        self,
        handle: WorkflowHandle[Any, Any],
        *,
        batch_size: int = 200,
        max_batch_bytes: int = 1_000_000,
        max_in_flight: int = 8,
        max_attempts: int = 10,
        base_delay: float = 0.1,
        max_delay: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 1 <= max_in_flight <= 10:
            limit = "Temporal's in-flight update limit"
            msg = f"max_in_flight: expected 1..10 ({limit}), got {max_in_flight}"
            raise ValueError(msg)
        self._handle = handle
        self._batch_size = batch_size
        self._max_bytes = max_batch_bytes
        self._slots = asyncio.Semaphore(max_in_flight)
        self._max_attempts = max_attempts
        self._base = base_delay
        self._max = max_delay
        self._sleep = sleep
        self.retries = 0  # how often the server pushed back, for logs and tests
        self.retry_reasons: Counter[str] = Counter()  # RPC status name, code, or "timeout"

    async def submit(self, statements: Sequence[StatementInput]) -> StatementsReceipt:
        """All receipts and per-item errors, with error indices into `statements`."""
        if not statements:
            return StatementsReceipt()
        starts = self._cuts(statements)
        ends = [*starts[1:], len(statements)]
        tasks = [
            asyncio.ensure_future(self._batch(list(statements[a:b])))
            for a, b in zip(starts, ends, strict=True)
        ]
        try:
            parts = await asyncio.gather(*tasks)
        except BaseException:
            # One batch failed for good (or the caller gave up): stop the others instead of
            # leaving them running unobserved. Batches already accepted stay accepted;
            # submitting the same statements again is safe (same update ids and keys).
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        receipts: list[StatementReceipt] = []
        errors: list[ItemError] = []
        for offset, part in zip(starts, parts, strict=True):
            receipts.extend(part.receipts)
            errors.extend(e.model_copy(update={"index": e.index + offset}) for e in part.errors)
        return StatementsReceipt(receipts=receipts, errors=errors)

    def _cuts(self, statements: Sequence[StatementInput]) -> list[int]:
        """Batch starts: at most `batch_size` statements and about `max_batch_bytes` each
        (an update's payload must stay under Temporal's 2 MB limit)."""
        starts: list[int] = []
        count = size = 0
        for index, item in enumerate(statements):
            weight = len(item.text.encode()) + 400
            if not starts or count == self._batch_size or size + weight > self._max_bytes:
                starts.append(index)
                count = size = 0
            count += 1
            size += weight
        return starts

    async def _batch(self, items: list[StatementInput]) -> StatementsReceipt:
        keys = "\x1f".join(s.idempotency_key for s in items)
        digest = hashlib.sha256(keys.encode()).hexdigest()
        update_id = f"statements-{digest[:32]}"
        attempt = 0
        async with self._slots:
            while True:
                attempt += 1
                try:
                    result: StatementsReceipt = await self._handle.execute_update(
                        "submit_statements",
                        SubmitStatementsInput(statements=items),
                        id=update_id,
                        result_type=StatementsReceipt,
                    )
                    return result
                except (
                    RPCError,
                    WorkflowUpdateRPCTimeoutOrCancelledError,
                    WorkflowUpdateFailedError,
                ) as err:
                    if not retryable(err) or attempt >= self._max_attempts:
                        raise
                    self.retry_reasons[_reason(err)] += 1
                self.retries += 1
                await self._sleep(self._delay(attempt, digest))

    def _delay(self, attempt: int, digest: str) -> float:
        """Capped exponential backoff with jitter between 50 and 100 % taken from the batch."""
        ceiling = min(self._max, self._base * 2.0 ** (attempt - 1))
        jitter = 0.5 + (int(digest[attempt % 32 : attempt % 32 + 2], 16) / 255) / 2
        return float(ceiling * jitter)
