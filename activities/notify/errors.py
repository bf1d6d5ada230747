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
from typing import Literal

__all__ = ["Channel", "DeliveryError", "TemplateError", "redact"]

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
