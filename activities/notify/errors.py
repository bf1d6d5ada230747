"""The one error type every notification channel raises, so callers decide retry vs. incident.

The outbox delivery activity catches `DeliveryError`: `retryable=True` means "try again later
with backoff" (server busy, 4xx SMTP reply, 5xx/408/429 HTTP, timeout, refused connection);
`retryable=False` means "retrying will not help" (5xx SMTP reply, other 4xx HTTP, bad
configuration) and the message should become an incident at once.

Messages never carry personal data (addresses are redacted), because they end up in logs,
in Temporal failure details and in the incident list.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from temporalio.exceptions import ApplicationError

__all__ = ["Channel", "DeliveryError", "TemplateError", "as_application_error", "redact"]

Channel = Literal["mail", "webhook"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def redact(text: str) -> str:
    """Replace anything that looks like a mail address, e.g. in an SMTP server's reply."""
    return _EMAIL.sub("<redacted>", text)


class DeliveryError(Exception):
    """A notification could not be delivered.

    Attributes:
        retryable: whether a later attempt may succeed (temporary failure).
        status: the SMTP reply code or HTTP status, when the remote side answered.
        channel: "mail" or "webhook".
        retry_after: seconds the receiver asked us to wait (HTTP `Retry-After`), if any.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        channel: Channel,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.channel = channel
        self.status = status
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return (
            f"DeliveryError({self.message!r}, retryable={self.retryable}, "
            f"channel={self.channel!r}, status={self.status!r})"
        )


class TemplateError(ValueError):
    """A mail template is missing, malformed, or was rendered without a variable it needs.

    Never retryable: the definition or the caller's context has to change.
    """


def as_application_error(err: DeliveryError | TemplateError) -> ApplicationError:
    """The Temporal failure for an activity: non-retryable when retrying cannot help.

    `type` is "DeliveryError" or "TemplateError", so workflow code and the Web UI can tell
    them apart; a receiver's `Retry-After` becomes the next retry delay.
    """
    if isinstance(err, TemplateError):
        return ApplicationError(str(err), type="TemplateError", non_retryable=True)
    delay = timedelta(seconds=err.retry_after) if err.retry_after is not None else None
    return ApplicationError(
        err.message,
        {"channel": err.channel, "status": err.status},
        type="DeliveryError",
        non_retryable=not err.retryable,
        next_retry_delay=delay,
    )
