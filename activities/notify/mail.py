"""Outbound mail over SMTP (aiosmtplib): one connection per message, errors sorted for retry.

`OutboundMail.message_id` is the outbox message id. It becomes the `Message-ID` header, so a
message sent twice (at-least-once delivery after a crash) carries the same id both times and
mail clients and archives can drop the duplicate.

Classification (see `DeliveryError`): refused or dropped connections, timeouts and 4xx replies
are temporary (`retryable=True`); 5xx replies, authentication failures, a server without
STARTTLS when it is required and certificate errors are permanent (`retryable=False`).
"""

from __future__ import annotations

import email.policy
import os
import re
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Final, Literal

import aiosmtplib
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from activities.notify.errors import DeliveryError, redact
from activities.notify.templates import Language

__all__ = [
    "MailSecurity",
    "MailSender",
    "MailSettings",
    "OutboundMail",
    "build_message",
    "mail_sender_from_env",
]

MailSecurity = Literal["starttls", "tls", "none"]

# Headers the sender sets itself; a caller may not override them through `headers`.
_RESERVED_HEADERS: Final = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "message-id",
        "date",
        "content-language",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
        "auto-submitted",
        "sender",
        "reply-to",
    }
)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,76}$")
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,200}$")
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def _check_address(value: str, field: str) -> str:
    if not _ADDRESS.match(value):
        # The value itself is personal data: the message says what is wrong, not what it was.
        msg = f"{field}: expected one plain mail address like name@example.org"
        raise ValueError(msg)
    return value


class MailSettings(BaseSettings):
    """SMTP settings, from `CIVICFLOW_SMTP_*` environment variables or given directly.

    `security`: "starttls" (port 587, upgrade required), "tls" (implicit TLS, port 465) or
    "none" (plain SMTP, for a local relay only). `ca_file` adds a CA bundle to trust (a
    municipal CA, or a test's self-signed certificate).
    """

    model_config = SettingsConfigDict(env_prefix="CIVICFLOW_SMTP_", extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    security: MailSecurity = "starttls"
    username: str | None = None
    password: SecretStr | None = Field(default=None, repr=False)
    from_address: str = "beteiligung@example.org"
    from_name: str | None = "civicflow"
    reply_to: str | None = Field(
        default=None, description="where replies go, e.g. the participation office"
    )
    envelope_from: str | None = Field(
        default=None, description="bounce address (MAIL FROM); from_address when unset"
    )
    message_id_domain: str | None = Field(
        default=None, description="right side of Message-ID; the from_address domain when unset"
    )
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    validate_certs: bool = True
    ca_file: Path | None = None

    @field_validator("from_address", "envelope_from", "reply_to")
    @classmethod
    def _address(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else _check_address(value, str(info.field_name))

    @model_validator(mode="after")
    def _auth_pair(self) -> MailSettings:
        if (self.username is None) != (self.password is None):
            msg = "smtp username and password must be given together"
            raise ValueError(msg)
        if self.ca_file is not None and not self.ca_file.is_file():
            msg = f"smtp ca_file {self.ca_file} does not exist"
            raise ValueError(msg)
        return self

    def tls_context(self) -> ssl.SSLContext | None:
        """The client TLS context; None when security is "none"."""
        if self.security == "none":
            return None
        context = ssl.create_default_context(
            cafile=str(self.ca_file) if self.ca_file is not None else None
        )
        if not self.validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class OutboundMail(BaseModel):
    """One rendered mail to one recipient.

    `message_id`: stable id (the outbox message id); bare ids get `@<domain>` appended.
    `headers`: extra headers (e.g. `List-Unsubscribe`); the standard ones are set by the sender.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str
    to: str
    lang: Language = "de"
    subject: str = Field(min_length=1, max_length=998)
    text: str
    html: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("message_id")
    @classmethod
    def _message_id(cls, value: str) -> str:
        bare = value.removeprefix("<").removesuffix(">")
        if not _MESSAGE_ID.match(bare):
            msg = f"message_id: expected printable characters without spaces, got {value!r}"
            raise ValueError(msg)
        return bare

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        return _check_address(value, "to")

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            msg = "subject: expected one line (a line break would start a new header)"
            raise ValueError(msg)
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, content in value.items():
            if not _HEADER_NAME.match(name):
                msg = f"headers: {name!r} is not a valid header name"
                raise ValueError(msg)
            if name.lower() in _RESERVED_HEADERS:
                msg = f"headers: {name} is set by the mail sender and cannot be overridden"
                raise ValueError(msg)
            if "\r" in content or "\n" in content:
                msg = f"headers: value of {name} must be one line"
                raise ValueError(msg)
        return value


def build_message(
    mail: OutboundMail, settings: MailSettings, *, now: datetime | None = None
) -> EmailMessage:
    """The MIME message: text/plain, plus text/html as alternative when given."""
    message = EmailMessage(policy=email.policy.SMTP)
    domain = settings.message_id_domain or settings.from_address.rpartition("@")[2]
    message_id = mail.message_id if "@" in mail.message_id else f"{mail.message_id}@{domain}"
    if settings.from_name:
        local, _, from_domain = settings.from_address.rpartition("@")
        message["From"] = Address(settings.from_name, local, from_domain)
    else:
        message["From"] = settings.from_address
    message["To"] = mail.to
    if settings.reply_to:
        message["Reply-To"] = settings.reply_to
    message["Subject"] = mail.subject
    message["Message-ID"] = f"<{message_id}>"
    message["Date"] = format_datetime(now or datetime.now(UTC))
    # RFC 3834: tells vacation responders not to answer an automatic notification.
    message["Auto-Submitted"] = "auto-generated"
    for name, content in mail.headers.items():
        message[name] = content
    message.set_content(mail.text, charset="utf-8")
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html", charset="utf-8")
    # After set_content, which clears every Content-* header (RFC 3282: language of the text).
    message["Content-Language"] = mail.lang
    return message


class MailSender:
    """Sends `OutboundMail` through the configured SMTP server; raises `DeliveryError`."""

    def __init__(self, settings: MailSettings) -> None:
        self._settings = settings
        self._tls = settings.tls_context()

    @property
    def settings(self) -> MailSettings:
        """The settings this sender was built with."""
        return self._settings

    async def send(self, message: OutboundMail) -> None:
        """Deliver one mail to the SMTP server (accepted by the server = delivered for us)."""
        settings = self._settings
        mime = build_message(message, settings)
        password = settings.password.get_secret_value() if settings.password else None
        try:
            await aiosmtplib.send(
                mime,
                sender=settings.envelope_from or settings.from_address,
                recipients=[message.to],
                hostname=settings.host,
                port=settings.port,
                username=settings.username,
                password=password,
                use_tls=settings.security == "tls",
                start_tls=settings.security == "starttls",
                tls_context=self._tls,
                timeout=settings.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as err:
            codes = [refused.code for refused in err.recipients]
            code = codes[0] if codes else None
            replies = "; ".join(f"{r.code} {r.message}" for r in err.recipients)
            raise _classified(f"recipient refused: {replies}", code) from err
        except aiosmtplib.SMTPAuthenticationError as err:
            # 454 is a temporary failure of the server's auth backend; 535 means wrong
            # credentials, which no retry fixes.
            retryable = 400 <= err.code < 500
            hint = "try again later" if retryable else "check username and password"
            msg = f"SMTP authentication failed ({err.code}); {hint}"
            raise DeliveryError(msg, retryable=retryable, channel="mail", status=err.code) from err
        except aiosmtplib.SMTPResponseException as err:
            raise _classified(f"{type(err).__name__}: {err.code} {err.message}", err.code) from err
        except ssl.SSLCertVerificationError as err:
            msg = (
                f"TLS certificate of {settings.host} not trusted ({err.verify_message}); "
                "set ca_file or fix the server certificate"
            )
            raise DeliveryError(msg, retryable=False, channel="mail") from err
        except OSError as err:
            # Connection refused or dropped, timeouts (aiosmtplib's are OSErrors too): the
            # server may be back soon.
            msg = f"SMTP server {settings.host}:{settings.port} unavailable: {err}"
            raise DeliveryError(redact(msg), retryable=True, channel="mail") from err
        except aiosmtplib.SMTPException as err:
            # Neither a reply code nor a network failure: the server lacks something the
            # settings require (STARTTLS, AUTH, SMTPUTF8). Retrying cannot fix configuration.
            msg = (
                f"SMTP server {settings.host}:{settings.port} does not support the settings: {err}"
            )
            raise DeliveryError(redact(msg), retryable=False, channel="mail") from err


def _classified(detail: str, code: int | None) -> DeliveryError:
    """4xx is a temporary refusal (greylisting, full queue), 5xx a permanent one."""
    retryable = code is None or 400 <= code < 500
    kind = "temporary" if retryable else "permanent"
    msg = f"SMTP {kind} failure: {redact(detail)}"
    return DeliveryError(msg, retryable=retryable, channel="mail", status=code)


def mail_sender_from_env() -> MailSender | None:
    """A sender from `CIVICFLOW_SMTP_*`, or None when `CIVICFLOW_SMTP_HOST` is not set.

    For the worker: without a configured server, mail rows stay queued for a worker that has
    one, instead of failing against a default host that does not exist.
    """
    if not os.environ.get("CIVICFLOW_SMTP_HOST"):
        return None
    return MailSender(MailSettings())
