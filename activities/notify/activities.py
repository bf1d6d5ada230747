"""Temporal activities that send one mail or one webhook, for direct use by workflows.

The procedure engine normally notifies through the outbox (storage writes the notification in
the same transaction as its event; the outbox delivery activity uses `MailSender` and
`WebhookSender` directly). These activities are for callers without an outbox. Note that
`SendMailInput.to` puts the address into the workflow history: prefer the outbox, which reads
addresses from the participants table, unless payloads are encrypted.

Failures become `ApplicationError`s (see `as_application_error`): temporary ones are retried
by the activity's retry policy with backoff; permanent ones and exhausted retries fail the
activity, and the calling workflow records an incident and carries on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notify.errors import DeliveryError, TemplateError, as_application_error
from activities.notify.events import CloudEvent
from activities.notify.mail import MailSender, OutboundMail
from activities.notify.templates import Language, MailRenderer
from activities.notify.webhook import WebhookSender, WebhookSubscriber

__all__ = [
    "DELIVER_WEBHOOK",
    "SEND_MAIL",
    "DeliverWebhookInput",
    "DeliverWebhookResult",
    "NotificationActivities",
    "SendMailInput",
]

SEND_MAIL: Final = "send_mail"
DELIVER_WEBHOOK: Final = "deliver_webhook"


class SendMailInput(BaseModel):
    """Render `template_id` in `lang` with `context` and send it to `to`, once per `message_id`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str
    to: str
    lang: Language = "de"
    template_id: str
    context: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)


class DeliverWebhookInput(BaseModel):
    """Deliver `event` to the subscriber configured on the worker under `subscriber_id`.

    Only the id travels through the history: the subscriber's secret stays on the worker.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscriber_id: str
    event: CloudEvent


class DeliverWebhookResult(BaseModel):
    """`delivered` is False when the subscriber's filters do not want this event."""

    delivered: bool


class NotificationActivities:
    """Activities bound to the worker's senders, renderer and webhook subscribers."""

    def __init__(
        self,
        *,
        mail: MailSender | None = None,
        webhooks: WebhookSender | None = None,
        subscribers: Mapping[str, WebhookSubscriber] | None = None,
        renderer: MailRenderer | None = None,
    ) -> None:
        self._mail = mail
        self._webhooks = webhooks
        self._subscribers = dict(subscribers or {})
        self._renderer = renderer or MailRenderer()

    @activity.defn(name=SEND_MAIL)
    async def send_mail(self, input: SendMailInput) -> None:
        """Render and send one mail; the Message-ID is stable across retries."""
        if self._mail is None:
            msg = "send_mail: no SMTP server configured on this worker (CIVICFLOW_SMTP_*)"
            raise ApplicationError(msg, type="ConfigError", non_retryable=True)
        try:
            rendered = self._renderer.render(input.template_id, input.lang, input.context)
            mail = OutboundMail(
                message_id=input.message_id,
                to=input.to,
                lang=rendered.lang,  # German when the template lacks the language
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                headers=input.headers,
            )
            await self._mail.send(mail)
        except (DeliveryError, TemplateError) as err:
            # No address in the log line: message id and template are enough to find it.
            activity.logger.warning(
                "mail %s (%s.%s) not delivered: %s",
                input.message_id,
                input.template_id,
                input.lang,
                err,
            )
            raise as_application_error(err) from err

    @activity.defn(name=DELIVER_WEBHOOK)
    async def deliver_webhook(self, input: DeliverWebhookInput) -> DeliverWebhookResult:
        """POST one signed CloudEvent to one configured subscriber."""
        subscriber = self._subscribers.get(input.subscriber_id)
        if self._webhooks is None or subscriber is None:
            msg = f"deliver_webhook: no webhook subscriber {input.subscriber_id!r} on this worker"
            raise ApplicationError(msg, type="ConfigError", non_retryable=True)
        if not subscriber.accepts(input.event):
            return DeliverWebhookResult(delivered=False)
        try:
            await self._webhooks.deliver(subscriber, input.event)
        except DeliveryError as err:
            activity.logger.warning("event %s not delivered: %s", input.event.id, err)
            raise as_application_error(err) from err
        return DeliverWebhookResult(delivered=True)
