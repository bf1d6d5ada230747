"""Webhooks: CloudEvents 1.0 in structured JSON mode, POSTed with an HMAC-SHA256 signature.

Signature header (one per request)::

    Civicflow-Signature: t=<unix seconds>,v1=<hex hmac-sha256(secret, "<t>." + body)>

A receiver recomputes the HMAC over the exact raw body with its subscriber secret, compares
in constant time, and rejects a timestamp outside its replay window (`verify_signature` does
all three). Several `v1=` entries may appear while a secret is being rotated; one match is
enough. The event `id` is stable across retries: receivers deduplicate on it.

Classification: 2xx delivered; 408, 429, 5xx, timeouts and connection errors are temporary
(`retryable=True`, `retry_after` from the `Retry-After` header when given); any other status
(4xx, and 3xx since redirects are not followed) is permanent.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from activities.notify.errors import DeliveryError
from activities.notify.events import CloudEvent

__all__ = [
    "CONTENT_TYPE",
    "SIGNATURE_HEADER",
    "SignatureError",
    "WebhookSender",
    "WebhookSubscriber",
    "sign",
    "signature_header",
    "verify_signature",
]

SIGNATURE_HEADER: Final = "Civicflow-Signature"
CONTENT_TYPE: Final = "application/cloudevents+json; charset=utf-8"
USER_AGENT: Final = "civicflow-webhooks/1"
DEFAULT_TOLERANCE: Final = timedelta(minutes=5)
_RETRYABLE_STATUS: Final = frozenset({408, 429})
_MAX_RETRY_AFTER: Final = 86_400.0


class SignatureError(ValueError):
    """A webhook request's signature is missing, malformed, wrong or outside the window."""


class WebhookSubscriber(BaseModel):
    """An integrator that receives events.

    `event_types`: glob patterns (`de.civicflow.commitment.*`); empty means every type.
    `procedure_ids`: only events whose subject is one of these; empty means every procedure.
    The secret never leaves the worker: workflows refer to subscribers by `id`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=100)
    url: str
    secret: SecretStr = Field(repr=False)
    event_types: tuple[str, ...] = ()
    procedure_ids: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            msg = f"url: expected an http(s) URL with a host, got scheme {parts.scheme!r}"
            raise ValueError(msg)
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            msg = "secret: expected at least 16 characters"
            raise ValueError(msg)
        return value

    def accepts(self, event: CloudEvent) -> bool:
        """Whether this subscriber wants the event (type globs and procedure filter)."""
        if self.event_types and not any(
            fnmatch.fnmatchcase(event.type, pattern) for pattern in self.event_types
        ):
            return False
        return not self.procedure_ids or event.subject in self.procedure_ids


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 over ``b"<timestamp>." + body``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The value of the `Civicflow-Signature` header."""
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def _unix(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            msg = "now: expected a timezone-aware datetime"
            raise ValueError(msg)
        return now.timestamp()
    return float(now)


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    now: datetime | float | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> int:
    """Check a `Civicflow-Signature` header; return its timestamp or raise `SignatureError`.

    For receivers. `body` must be the raw request body, byte for byte. A timestamp further
    than `tolerance` from `now` (either way) is rejected, so a captured request cannot be
    replayed later.
    """
    if not header:
        msg = f"missing {SIGNATURE_HEADER} header"
        raise SignatureError(msg)
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError as err:
                msg = f"{SIGNATURE_HEADER}: t must be unix seconds, got {value!r}"
                raise SignatureError(msg) from err
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        msg = f"{SIGNATURE_HEADER}: expected 't=<unix>,v1=<hex>'"
        raise SignatureError(msg)
    age = _unix(now) - timestamp
    if abs(age) > tolerance.total_seconds():
        msg = (
            f"{SIGNATURE_HEADER}: timestamp is {age:.0f}s away from now, "
            f"outside the {tolerance.total_seconds():.0f}s replay window"
        )
        raise SignatureError(msg)
    expected = sign(secret, timestamp, body)
    # Compared as bytes: compare_digest refuses non-ASCII str, and a header may carry anything.
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates):
        msg = f"{SIGNATURE_HEADER}: signature does not match the body"
        raise SignatureError(msg)
    return timestamp


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    # A receiver cannot park a message for ever: at most a day, then the backoff decides.
    return min(max(0.0, seconds), _MAX_RETRY_AFTER)


class WebhookSender:
    """POSTs signed CloudEvents; raises `DeliveryError` unless the receiver answers 2xx.

    Pass your own `httpx.AsyncClient` to share a connection pool (the caller closes it);
    otherwise the sender owns one and `aclose()` closes it.
    """

    def __init__(
        self, client: httpx.AsyncClient | None = None, *, timeout_seconds: float = 10.0
    ) -> None:
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False)
        self._timeout = httpx.Timeout(timeout_seconds)

    async def aclose(self) -> None:
        """Close the HTTP client if this sender created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def deliver(
        self, subscriber: WebhookSubscriber, event: CloudEvent, *, now: float | None = None
    ) -> None:
        """Send one event to one subscriber (the caller checked `subscriber.accepts`)."""
        body = event.to_json_bytes()
        timestamp = int(now if now is not None else time.time())
        headers = {
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature_header(
                subscriber.secret.get_secret_value(), timestamp, body
            ),
        }
        # The URL may hold a token in its query: messages name the subscriber and host only.
        where = f"webhook {subscriber.id} ({urlsplit(subscriber.url).hostname})"
        try:
            # Streamed and never read: the receiver's body is of no interest, however large.
            async with self._client.stream(
                "POST",
                subscriber.url,
                content=body,
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                status = response.status_code
                retry_after = _retry_after(response)
        except httpx.TimeoutException as err:
            msg = f"{where}: timed out ({type(err).__name__})"
            raise DeliveryError(msg, retryable=True, channel="webhook") from err
        except httpx.UnsupportedProtocol as err:
            msg = f"{where}: unsupported URL scheme"
            raise DeliveryError(msg, retryable=False, channel="webhook") from err
        except httpx.TransportError as err:
            msg = f"{where}: connection failed ({type(err).__name__}: {err})"
            raise DeliveryError(msg, retryable=True, channel="webhook") from err
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in _RETRYABLE_STATUS
        kind = "temporary" if retryable else "permanent"
        msg = f"{where}: {kind} failure, HTTP {status}"
        raise DeliveryError(
            msg,
            retryable=retryable,
            channel="webhook",
            status=status,
            retry_after=retry_after if retryable else None,
        )
