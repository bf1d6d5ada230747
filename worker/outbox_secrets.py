"""The outbox's secrets for the worker, from the environment or from files (`<NAME>_FILE`).

The SMTP password (`CIVICFLOW_SMTP_PASSWORD_FILE`) is read once at start, so a wrong mount
stops the worker with one line. Webhook secrets are looked up by reference at each delivery,
as `env_secret_resolver` does, with `CIVICFLOW_WEBHOOK_SECRET_<REF>_FILE` beside it: a mounted
Secret that Kubernetes updates in place is picked up without a restart, and an unusable file
becomes the delivery's incident, naming the variable and the problem (worker.secret_files).
"""

from __future__ import annotations

import os
import re

from pydantic import SecretStr

from activities.notify.mail import MailSender, MailSettings, mail_sender_from_env
from activities.storage.delivery import SecretResolver
from worker.secret_files import env_or_file

__all__ = ["SMTP_PASSWORD", "mail_sender", "webhook_secret_resolver"]

SMTP_PASSWORD = "CIVICFLOW_SMTP_PASSWORD"  # noqa: S105  (a variable name)


def mail_sender() -> MailSender | None:
    """`mail_sender_from_env`, with the password from `CIVICFLOW_SMTP_PASSWORD_FILE` if set."""
    if not os.environ.get(SMTP_PASSWORD + "_FILE"):
        return mail_sender_from_env()
    password = env_or_file(SMTP_PASSWORD)
    if not os.environ.get("CIVICFLOW_SMTP_HOST"):
        return None
    return MailSender(MailSettings(password=SecretStr(password or "")))


def webhook_secret_resolver(prefix: str = "CIVICFLOW_WEBHOOK_SECRET_") -> SecretResolver:
    """Secret of ref `portal-1`: `<prefix>PORTAL_1`, or the file `<prefix>PORTAL_1_FILE` names."""

    def resolve(ref: str) -> str | None:
        return env_or_file(prefix + re.sub(r"[^A-Za-z0-9]", "_", ref).upper())

    return resolve
