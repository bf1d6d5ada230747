"""Notifications: mail over SMTP from Jinja2 templates, and signed CloudEvents webhooks.

Senders raise `DeliveryError` with `retryable` set; the outbox delivery activity retries the
temporary failures with backoff and turns the permanent ones (and exhausted retries) into
incidents.
"""

from activities.notify.activities import (
    DELIVER_WEBHOOK,
    SEND_MAIL,
    DeliverWebhookInput,
    DeliverWebhookResult,
    NotificationActivities,
    SendMailInput,
)
from activities.notify.errors import DeliveryError, TemplateError, as_application_error, redact
from activities.notify.events import (
    COMMITMENT_DUE,
    COMMITMENT_OVERDUE,
    DEADLINE_EXTENDED,
    DECISION_RECORDED,
    EVENT_TYPES,
    OUTREACH_UNDER_REPRESENTED,
    OUTREACH_WAVE_DRAWN,
    OUTREACH_WAVE_FAILED,
    PANEL_SELECTED,
    PHASE_CHANGED,
    PROCEDURE_CANCELLED,
    PROCEDURE_COMPLETED,
    PROCEDURE_STARTED,
    STATEMENT_RECEIVED,
    CloudEvent,
    build_event,
)
from activities.notify.mail import (
    MailSender,
    MailSettings,
    OutboundMail,
    build_message,
    mail_sender_from_env,
)
from activities.notify.samples import SAMPLE_CONTEXTS, preview
from activities.notify.templates import (
    LANGUAGES,
    PROCEDURE_HEADER,
    STANDARD_TEMPLATES,
    MailRenderer,
    RenderedMail,
    TemplateSettings,
    procedure_facts,
    render_mail,
    template_filename,
)
from activities.notify.webhook import (
    SIGNATURE_HEADER,
    SignatureError,
    WebhookSender,
    WebhookSubscriber,
    signature_header,
    verify_signature,
)

__all__ = [
    "COMMITMENT_DUE",
    "COMMITMENT_OVERDUE",
    "DEADLINE_EXTENDED",
    "DECISION_RECORDED",
    "DELIVER_WEBHOOK",
    "EVENT_TYPES",
    "LANGUAGES",
    "OUTREACH_UNDER_REPRESENTED",
    "OUTREACH_WAVE_DRAWN",
    "OUTREACH_WAVE_FAILED",
    "PANEL_SELECTED",
    "PHASE_CHANGED",
    "PROCEDURE_CANCELLED",
    "PROCEDURE_COMPLETED",
    "PROCEDURE_HEADER",
    "PROCEDURE_STARTED",
    "SAMPLE_CONTEXTS",
    "SEND_MAIL",
    "SIGNATURE_HEADER",
    "STANDARD_TEMPLATES",
    "STATEMENT_RECEIVED",
    "CloudEvent",
    "DeliverWebhookInput",
    "DeliverWebhookResult",
    "DeliveryError",
    "MailRenderer",
    "MailSender",
    "MailSettings",
    "NotificationActivities",
    "OutboundMail",
    "RenderedMail",
    "SendMailInput",
    "SignatureError",
    "TemplateError",
    "TemplateSettings",
    "WebhookSender",
    "WebhookSubscriber",
    "as_application_error",
    "build_event",
    "build_message",
    "mail_sender_from_env",
    "preview",
    "procedure_facts",
    "redact",
    "render_mail",
    "signature_header",
    "template_filename",
    "verify_signature",
]
