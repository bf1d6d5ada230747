"""Public surface of activities.notify, and the mapping of errors to Temporal failures."""

from __future__ import annotations

import importlib
from datetime import timedelta

import activities.notify as notify
from activities.notify import DeliveryError, TemplateError, as_application_error, redact

MODULES = (
    "activities", "errors", "events", "filters", "mail", "samples", "templates", "webhook",
)  # fmt: skip


# Names the submodules export that the package deliberately leaves to `from ...mail import`.
NOT_REEXPORTED = {
    "Channel", "MailSecurity", "Language", "DEFAULT_LANGUAGE", "DEFAULT_SOURCE",
    "EVENT_TYPE_PREFIX", "CONTENT_TYPE", "sign", "templates_root", "PROCEDURE_URL",
    "FILTERS", "format_date", "format_datetime",
}  # fmt: skip


def test_package_all_is_complete() -> None:
    exported = set(notify.__all__)
    assert len(exported) == len(notify.__all__)
    for public in notify.__all__:
        assert hasattr(notify, public), public
    for name in MODULES:
        module = importlib.import_module(f"activities.notify.{name}")
        for public in module.__all__:
            assert hasattr(module, public), f"{name}.__all__ names missing {public}"
        missing = set(module.__all__) - exported - NOT_REEXPORTED
        assert not missing, f"activities.notify does not re-export {sorted(missing)} from {name}"


def test_retryable_delivery_error_becomes_retryable_failure_with_delay() -> None:
    err = DeliveryError(
        "webhook portal: temporary failure, HTTP 503",
        retryable=True,
        channel="webhook",
        status=503,
        retry_after=30,
    )
    failure = as_application_error(err)
    assert failure.type == "DeliveryError"
    assert failure.non_retryable is False
    assert failure.next_retry_delay == timedelta(seconds=30)
    assert failure.details == ({"channel": "webhook", "status": 503},)


def test_permanent_errors_become_non_retryable_failures() -> None:
    permanent = as_application_error(
        DeliveryError("SMTP permanent failure", retryable=False, channel="mail", status=550)
    )
    assert permanent.non_retryable is True
    assert permanent.next_retry_delay is None
    template = as_application_error(TemplateError("reminder.de.j2: 'days_left' is undefined"))
    assert (template.type, template.non_retryable) == ("TemplateError", True)
    assert "days_left" in str(template)


def test_redact_removes_addresses_from_server_replies() -> None:
    reply = "550 5.1.1 <erika.muster+bp@mail.example.org>: Recipient address rejected"
    assert redact(reply) == "550 5.1.1 <<redacted>>: Recipient address rejected"
