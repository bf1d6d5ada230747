"""The dev stack's mail sink: mail sent by the worker's own sender, configured the way
`civicflow dev` configures it (CIVICFLOW_SMTP_*), lands as a complete .eml file."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from activities.notify.mail import OutboundMail, mail_sender_from_env
from tests.helpers import free_port
from worker.devstack.mailsink import MailSink
from worker.devstack.ports import PortInUseError


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[MailSink]:
    mail_sink = MailSink(tmp_path / "mail", port=free_port())
    await mail_sink.start()
    try:
        yield mail_sink
    finally:
        await mail_sink.stop()


def read(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_mail_from_the_configured_sender_is_kept_as_eml(
    sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CIVICFLOW_SMTP_USERNAME", "CIVICFLOW_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    for name, value in sink.smtp_settings().items():
        monkeypatch.setenv(name, value)
    sender = mail_sender_from_env()
    assert sender is not None
    mail = OutboundMail(
        message_id="3f2c-outbox-1",
        to="erika@example.org",
        lang="de",
        subject="Einladung: Bebauungsplan Bahnstadt – Grünfläche",
        text="Guten Tag,\n\nSie sind eingeladen.\n",
        html="<p>Guten Tag,</p><p>Sie sind eingeladen.</p>",
        headers={"X-Civicflow-Procedure": "bplan-42"},
    )
    await sender.send(mail)
    await sender.send(mail)  # at-least-once delivery: a resend is kept, not overwritten

    saved = sink.saved()
    assert len(saved) == 2
    assert list(sink.directory.glob("*.part")) == []
    first, second = (read(path) for path in saved)
    assert first["Subject"] == mail.subject
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].startswith("<3f2c-outbox-1@")
    assert first["X-Original-To"] == "erika@example.org"
    assert first["Return-Path"] == f"<{sender.settings.from_address}>"
    assert first["X-Civicflow-Procedure"] == "bplan-42"
    plain = first.get_body(("plain",))
    assert plain is not None
    assert "Sie sind eingeladen." in plain.get_content()


async def test_a_taken_port_names_the_flag(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = MailSink(tmp_path / "mail", port=port)
        with pytest.raises(PortInUseError, match=rf"port {port} \(mail sink\).*--mail-port"):
            await busy.start()
