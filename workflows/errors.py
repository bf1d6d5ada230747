"""Stable error codes for every rejection an integrator can get.

A refused update fails with a Temporal `ApplicationError` whose `type` is the code, whose
message starts with `CODE: ` and then names the field and what was expected, and which is
non-retryable (the same request will be refused again), except the codes in
`RETRYABLE_CODES`: a passing state of the procedure, after which the same request succeeds.
The code is the same through every path (SDK, `temporal` CLI, HTTP API); integrators branch
on it, never on the text. The catalogue with what to do about each code is in docs/errors.md.
"""

from __future__ import annotations

from enum import StrEnum

from temporalio.exceptions import ActivityError, ApplicationError

__all__ = ["RETRYABLE_CODES", "Code", "Rejected", "failure_reason", "rejection"]


def failure_reason(err: ActivityError) -> str:
    """What a failed activity said (its application error's message), not Temporal's wrapper
    text: events and start errors quote it."""
    return err.cause.message if isinstance(err.cause, ApplicationError) else str(err)


class Code(StrEnum):
    """Stable rejection codes; never rename one, only add."""

    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    ATTACHMENT_SCHEME_NOT_ALLOWED = "ATTACHMENT_SCHEME_NOT_ALLOWED"
    PROCEDURE_NOT_READY = "PROCEDURE_NOT_READY"
    PROCEDURE_PAUSED = "PROCEDURE_PAUSED"
    PROCEDURE_NOT_PAUSED = "PROCEDURE_NOT_PAUSED"
    PROCEDURE_ENDED = "PROCEDURE_ENDED"
    DUPLICATE_IDEMPOTENCY_KEY = "DUPLICATE_IDEMPOTENCY_KEY"
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    ROLE_NOT_ALLOWED = "ROLE_NOT_ALLOWED"
    PHASE_DOES_NOT_ACCEPT = "PHASE_DOES_NOT_ACCEPT"
    STATEMENT_TYPE_NOT_ACCEPTED = "STATEMENT_TYPE_NOT_ACCEPTED"
    STATEMENT_TOO_LARGE = "STATEMENT_TOO_LARGE"
    BATCH_TOO_LARGE = "BATCH_TOO_LARGE"
    INVALID_CHOICE = "INVALID_CHOICE"
    ALREADY_VOTED = "ALREADY_VOTED"
    INVALID_OUTCOME = "INVALID_OUTCOME"
    PHASE_NOT_ENDED_BY_DECISION = "PHASE_NOT_ENDED_BY_DECISION"
    DATE_IN_PAST = "DATE_IN_PAST"
    UNKNOWN_COMMITMENT = "UNKNOWN_COMMITMENT"
    DEADLINE_NOT_EXTENDABLE = "DEADLINE_NOT_EXTENDABLE"
    DEADLINE_NOT_LATER = "DEADLINE_NOT_LATER"
    PROCEDURE_CONTINUING = "PROCEDURE_CONTINUING"
    SELECTION_FAILED = "SELECTION_FAILED"


RETRYABLE_CODES = frozenset({Code.PROCEDURE_CONTINUING})
"""Codes of a refusal that passes by itself: send the same request again after a short wait
(`workflows.client.StatementSubmitter` does). Their `ApplicationError` is retryable."""


class Rejected(ApplicationError):
    """A refused update: `type` is the code, the message `CODE: what was wrong`.

    Raised by validators (the update is refused before it enters the history) and by
    handlers after their start-up wait (the update fails, the procedure keeps running).
    """

    def __init__(self, code: Code, message: str) -> None:
        retryable = code in RETRYABLE_CODES
        super().__init__(f"{code}: {message}", type=str(code), non_retryable=not retryable)
        self.code = code
        self.detail = message


def rejection(code: Code, message: str) -> Rejected:
    """The rejection for `code`: `ApplicationError(f"{code}: {message}", type=code,
    non_retryable=code not in RETRYABLE_CODES)`; `message` names the field and what was
    expected."""
    return Rejected(code, message)
