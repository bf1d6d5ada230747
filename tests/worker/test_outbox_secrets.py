"""The worker's outbox secrets from files: webhook signing secrets (`..._FILE`, read at each
delivery, so a rotated Secret needs no restart) and the SMTP password, over real HTTP and a
real PostgreSQL; an unusable file is an incident that names the variable, never the secret."""

from __future__ import annotations

import json
import os
from pathlib import Path

import asyncpg
import pytest

from activities import contracts
from activities.notify.webhook import SIGNATURE_HEADER, WebhookSender, verify_signature
from activities.storage.activities import DeliverOutboxInput, StorageActivities
from activities.storage.settings import StorageSettings
from tests.storage.conftest import (
    FreshMetrics,
    HttpReceiver,
    event,
    metrics,
    procedure,
    receiver,
    storage,
)
from worker.outbox_secrets import mail_sender, webhook_secret_resolver
from worker.run import STARTUP_ERRORS
from worker.secret_files import SecretFileError

__all__ = ["metrics", "procedure", "receiver", "storage"]  # fixtures used by name

SECRET_1 = "first-webhook-secret-0123456789abcdef"
SECRET_2 = "second-webhook-secret-0123456789abcdef"
VARIABLE = "CIVICFLOW_WEBHOOK_SECRET_HOOKS_PORTAL"


@pytest.fixture(autouse=True)
def _no_civicflow_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CIVICFLOW_"):
            monkeypatch.delenv(name)


def test_webhook_resolver_reads_the_variable_or_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolve = webhook_secret_resolver()
    assert resolve("hooks-portal") is None
    monkeypatch.setenv(VARIABLE, SECRET_1)
    assert resolve("hooks-portal") == SECRET_1
    path = tmp_path / "portal"
    path.write_text(SECRET_2 + "\n", encoding="utf-8")
    monkeypatch.setenv(VARIABLE + "_FILE", str(path))
    with pytest.raises(SecretFileError, match=f"{VARIABLE} and {VARIABLE}_FILE are both set"):
        resolve("hooks-portal")
    monkeypatch.delenv(VARIABLE)
    assert resolve("hooks-portal") == SECRET_2


async def _deliver_one(storage: StorageActivities, procedure: str, n: int) -> None:
    await storage.append_events(
        contracts.AppendEventsInput(procedure_id=procedure, events=[event(n)])
    )
    await storage.deliver_outbox(DeliverOutboxInput())


async def test_webhooks_are_signed_with_the_file_and_follow_its_rotation(
    db_pool: asyncpg.Pool,
    metrics: FreshMetrics,
    receiver: HttpReceiver,
    procedure: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "hooks-portal"
    path.write_text(SECRET_1 + "\n", encoding="utf-8")
    monkeypatch.setenv(VARIABLE + "_FILE", str(path))
    await db_pool.execute(
        "INSERT INTO webhook_subscriptions (subscription_id, url, secret_ref, procedure_kind) "
        "VALUES ('portal', $1, 'hooks-portal', NULL)",
        receiver.url,
    )
    settings = StorageSettings(outbox_max_attempts=1)
    async with WebhookSender() as sender:
        storage = StorageActivities(
            db_pool,
            metrics,
            settings,
            webhook_sender=sender,
            secrets=webhook_secret_resolver(settings.webhook_secret_env_prefix),
        )
        await _deliver_one(storage, procedure, 1)
        # Kubernetes updates a mounted Secret in place: the next delivery signs with the new one
        path.write_text(SECRET_2 + "\n", encoding="utf-8")
        await _deliver_one(storage, procedure, 2)
        # The mount disappears: the message becomes an incident that says why
        path.unlink()
        await _deliver_one(storage, procedure, 3)
    first, second = receiver.hits
    verify_signature(SECRET_1, first.headers[SIGNATURE_HEADER.lower()], first.body)
    verify_signature(SECRET_2, second.headers[SIGNATURE_HEADER.lower()], second.body)
    with pytest.raises(ValueError, match="signature"):
        verify_signature(SECRET_1, second.headers[SIGNATURE_HEADER.lower()], second.body)
    assert json.loads(first.body)["id"] != json.loads(second.body)["id"]
    rows = await db_pool.fetch("SELECT status, last_error FROM outbox ORDER BY created_at")
    assert [row["status"] for row in rows][:2] == ["delivered", "delivered"]
    incident = rows[2]
    assert incident["status"] != "delivered"
    assert f"{VARIABLE}_FILE: file {path} does not exist" in incident["last_error"]
    for row in rows:
        assert SECRET_1 not in (row["last_error"] or "")


def test_smtp_password_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "smtp-password"
    path.write_text("relay-pass-1\n", encoding="utf-8")
    monkeypatch.setenv("CIVICFLOW_SMTP_PASSWORD_FILE", str(path))
    assert mail_sender() is None  # no relay configured: mail stays queued, as before
    monkeypatch.setenv("CIVICFLOW_SMTP_HOST", "relay.example.org")
    monkeypatch.setenv("CIVICFLOW_SMTP_USERNAME", "civicflow")
    sender = mail_sender()
    assert sender is not None
    assert sender.settings.password is not None
    assert sender.settings.password.get_secret_value() == "relay-pass-1"
    assert "relay-pass-1" not in repr(sender.settings)
    path.unlink()
    with pytest.raises(SecretFileError, match=r"CIVICFLOW_SMTP_PASSWORD_FILE: file .* does not"):
        mail_sender()
    # ... which the worker reports in one line at start, like any other start-up error
    assert SecretFileError in STARTUP_ERRORS
    monkeypatch.delenv("CIVICFLOW_SMTP_PASSWORD_FILE")
    monkeypatch.setenv("CIVICFLOW_SMTP_PASSWORD", "relay-pass-env")
    sender = mail_sender()
    assert sender is not None
    assert sender.settings.password is not None
    assert sender.settings.password.get_secret_value() == "relay-pass-env"
