"""Outbox delivery: claim due rows, send them through the notification senders, record outcomes.

Mail rows name a participant; the address and language are read only now, from the personal
table, so an erased participant's mail is cancelled rather than sent. Webhook rows name a
subscription; its secret is resolved now from `secret_ref` (never stored in the database).
A `DeliveryError` with `retryable=True` is retried with backoff; a permanent one, a template
or configuration error, or the last allowed attempt makes the row an incident.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from pydantic import SecretStr, ValidationError

from activities.notify.errors import DeliveryError, TemplateError, redact
from activities.notify.events import build_event
from activities.notify.mail import MailSender, OutboundMail
from activities.notify.templates import PROCEDURE_HEADER, MailRenderer, procedure_facts
from activities.notify.webhook import WebhookSender, WebhookSubscriber
from activities.storage.outbox import (
    BackoffPolicy,
    Channel,
    OutboxRow,
    OutboxStatus,
    claim_due,
    record_cancelled,
    record_delivered,
    record_failure,
)

__all__ = ["DeliveryReport", "OutboxDelivery", "SecretResolver", "env_secret_resolver"]

SecretResolver = Callable[[str], str | None]
"""Maps a subscription's `secret_ref` to the secret, or None when there is none."""


def env_secret_resolver(prefix: str = "CIVICFLOW_WEBHOOK_SECRET_") -> SecretResolver:
    """Secrets from environment variables: ref `portal-1` is read from `<prefix>PORTAL_1`."""

    def resolve(ref: str) -> str | None:
        return os.environ.get(prefix + re.sub(r"[^A-Za-z0-9]", "_", ref).upper())

    return resolve


class _Cancel(Exception):
    """The message must not be sent any more (recipient erased, subscription removed)."""


class _Permanent(Exception):
    """The message cannot be sent until someone changes data or configuration."""


@dataclass(frozen=True)
class DeliveryReport:
    claimed: int
    delivered: int
    retried: int
    incidents: int
    cancelled: int


class OutboxDelivery:
    """One delivery pass over due outbox rows; the `deliver_outbox` activity calls `run`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        policy: BackoffPolicy,
        lease_seconds: float,
        mail_sender: MailSender | None = None,
        webhook_sender: WebhookSender | None = None,
        renderer: MailRenderer | None = None,
        secrets: SecretResolver | None = None,
        concurrency: int = 10,
    ) -> None:
        self._pool = pool
        self._policy = policy
        self._lease_seconds = lease_seconds
        self._mail = mail_sender
        self._webhook = webhook_sender
        self._renderer = renderer or MailRenderer()
        self._secrets = secrets or env_secret_resolver()
        self._limit = asyncio.Semaphore(concurrency)

    @property
    def channels(self) -> tuple[Channel, ...]:
        """Channels this instance can send; rows of other channels are left for others."""
        found: list[Channel] = []
        if self._mail is not None:
            found.append("mail")
        if self._webhook is not None:
            found.append("webhook")
        return tuple(found)

    async def run(self, limit: int) -> DeliveryReport:
        """Claim up to `limit` due rows and try each once."""
        if not self.channels:
            return DeliveryReport(0, 0, 0, 0, 0)
        rows = await claim_due(
            self._pool,
            limit=limit,
            lease=timedelta(seconds=self._lease_seconds),
            channels=self.channels,
        )
        results = await asyncio.gather(*(self._one(row) for row in rows), return_exceptions=True)
        # Every send finishes (or fails) before anything is raised: no orphaned tasks. A row
        # whose outcome could not be recorded (database gone) is due again when its lease ends.
        for result in results:
            if isinstance(result, BaseException):
                raise result
        outcomes = [r for r in results if not isinstance(r, BaseException)]
        return DeliveryReport(
            claimed=len(rows),
            delivered=outcomes.count("delivered"),
            retried=outcomes.count("failed"),
            incidents=outcomes.count("incident"),
            cancelled=outcomes.count("cancelled"),
        )

    async def _one(self, row: OutboxRow) -> OutboxStatus:
        async with self._limit:
            try:
                if row.channel == "mail":
                    await self._send_mail(row)
                else:
                    await self._send_webhook(row)
            except _Cancel as cancel:
                await record_cancelled(self._pool, row.message_id, str(cancel))
                return "cancelled"
            except DeliveryError as err:
                return await record_failure(
                    self._pool,
                    row,
                    error=redact(err.message),
                    retryable=err.retryable,
                    policy=self._policy,
                    retry_after=err.retry_after,
                )
            except (_Permanent, TemplateError, ValidationError, ValueError) as err:
                error = f"{type(err).__name__}: {redact(str(err))}"
                return await record_failure(
                    self._pool, row, error=error, retryable=False, policy=self._policy
                )
            await record_delivered(self._pool, row.message_id)
            return "delivered"

    async def _send_mail(self, row: OutboxRow) -> None:
        assert self._mail is not None  # only claimed when a mail sender is configured
        # One query: the recipient (the only personal data a mail holds) and the public facts
        # of the procedure the mail is about.
        person = await self._pool.fetchrow(
            "SELECT p.language, p.erased_at, pp.email, pp.name, pr.title AS procedure_title, "
            "pr.kind AS procedure_kind, pr.definition_id FROM participants p "
            "LEFT JOIN participant_personal pp USING (participant_id) "
            "LEFT JOIN procedures pr ON pr.procedure_id = $2 "
            "WHERE p.participant_id = $1",
            row.recipient,
            row.procedure_id,
        )
        if person is None:
            msg = f"participant {row.recipient}: not registered"
            raise _Permanent(msg)
        if person["erased_at"] is not None:
            msg = "recipient erased"
            raise _Cancel(msg)
        if not person["email"]:
            msg = f"participant {row.recipient}: no e-mail address (send by post)"
            raise _Permanent(msg)
        facts = procedure_facts(
            row.procedure_id,
            title=person["procedure_title"],
            kind=person["procedure_kind"],
            definition_id=person["definition_id"],
        )
        context = {**facts, **row.payload.get("context", {})}  # the engine's values win
        if person["name"]:
            context.setdefault("recipient_name", person["name"])
        rendered = self._renderer.render(row.payload["template"], person["language"], context)
        await self._mail.send(
            OutboundMail(
                message_id=row.message_id,
                to=person["email"],
                lang=person["language"],
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                # Lets a mail room or portal file replies and bounces under the procedure.
                headers={PROCEDURE_HEADER: row.procedure_id},
            )
        )

    async def _send_webhook(self, row: OutboxRow) -> None:
        assert self._webhook is not None
        sub = await self._pool.fetchrow(
            "SELECT url, secret_ref, active FROM webhook_subscriptions WHERE subscription_id = $1",
            row.recipient,
        )
        if sub is None or not sub["active"]:
            msg = f"subscription {row.recipient} removed or inactive"
            raise _Cancel(msg)
        ref: str = sub["secret_ref"]
        secret = self._secrets(ref)
        if secret is None:
            msg = f"subscription {row.recipient}: no secret found for secret_ref {ref!r}"
            raise _Permanent(msg)
        subscriber = WebhookSubscriber(id=row.recipient, url=sub["url"], secret=SecretStr(secret))
        event = build_event(
            row.payload["type"],
            message_id=row.message_id,
            procedure_id=row.procedure_id,
            time=datetime.fromisoformat(row.payload["time"]),
            data=row.payload.get("data", {}),
        )
        await self._webhook.deliver(subscriber, event)
