"""The SMTP sender against a real SMTP server (aiosmtpd): headers, languages, TLS, refusals."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import ValidationError

from activities.notify import (
    DeliveryError,
    MailSender,
    MailSettings,
    OutboundMail,
    mail_sender_from_env,
    render_mail,
)
from tests.helpers import free_port
from tests.notify.conftest import Certificate, RecordingHandler, StartSmtp
from tests.notify.samples import PROCEDURE_URL, SAMPLES


def plain_settings(port: int, **overrides: Any) -> MailSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": "beteiligung@heidelberg.example",
        "from_name": "Stadt Heidelberg – Beteiligung",
        "timeout_seconds": 10,
    }
    values.update(overrides)
    return MailSettings(**values)


def outbound(message_id: str, to: str, lang: str, template_id: str, **extra: Any) -> OutboundMail:
    rendered = render_mail(template_id, lang, {**SAMPLES[template_id], **extra})
    return OutboundMail(
        message_id=message_id,
        to=to,
        lang=lang,  # type: ignore[arg-type]
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
    )


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


async def test_mail_arrives_with_headers_language_and_links(start_smtp: StartSmtp) -> None:
    server = start_smtp()
    sender = MailSender(plain_settings(server.port))
    await sender.send(outbound("n-1.p-7", "erika@example.org", "de", "invitation"))

    [got] = server.handler.received
    message = got.message
    assert got.mail_from == "beteiligung@heidelberg.example"
    assert got.rcpt_tos == ["erika@example.org"]
    assert message["Message-ID"] == "<n-1.p-7@heidelberg.example>"
    assert message["Subject"] == "Einladung zur Beteiligung: Bebauungsplan Nord"
    assert message["To"] == "erika@example.org"
    assert message["From"].addresses[0].addr_spec == "beteiligung@heidelberg.example"
    assert message["From"].addresses[0].display_name == "Stadt Heidelberg – Beteiligung"
    assert message["Content-Language"] == "de"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    assert "Guten Tag," in text
    assert PROCEDURE_URL in text
    assert f'href="{PROCEDURE_URL}"' in html
    assert "https://beteiligung.example.org/anmeldung/bp-nord" in text


async def test_each_recipient_gets_own_language_and_nobody_elses_data(
    start_smtp: StartSmtp,
) -> None:
    server = start_smtp()
    sender = MailSender(plain_settings(server.port))
    await sender.send(
        outbound("n-2.a", "erika@example.org", "de", "invitation", recipient_name="Erika Muster")
    )
    await sender.send(
        outbound("n-2.b", "john@example.net", "en", "invitation", recipient_name="John Doe")
    )

    first, second = server.handler.received
    assert first.rcpt_tos == ["erika@example.org"]
    assert second.rcpt_tos == ["john@example.net"]
    assert first.message["Content-Language"] == "de"
    assert second.message["Content-Language"] == "en"
    assert second.message["Subject"] == "Invitation to take part: Bebauungsplan Nord"
    first_raw = first.message.as_string()
    second_raw = second.message.as_string()
    first_text, _ = parts(first.message)
    second_text, second_html = parts(second.message)
    assert "Guten Tag Erika Muster," in first_text
    assert "Dear John Doe," in second_text
    assert "Dear John Doe," in second_html
    # One recipient per message: no Cc/Bcc, no other participant's name or address anywhere.
    for raw, foreign in ((first_raw, ("John", "john@")), (second_raw, ("Erika", "erika@"))):
        for needle in foreign:
            assert needle not in raw
    for got in (first, second):
        assert got.message["Cc"] is None
        assert got.message["Bcc"] is None


async def test_resent_message_keeps_its_message_id(start_smtp: StartSmtp) -> None:
    server = start_smtp()
    sender = MailSender(plain_settings(server.port))
    mail = outbound("notif-42", "erika@example.org", "de", "reminder")
    await sender.send(mail)
    await sender.send(mail)  # at-least-once: a retry after a crash sends again
    ids = [got.message["Message-ID"] for got in server.handler.received]
    assert ids == ["<notif-42@heidelberg.example>"] * 2


async def test_user_text_is_escaped_in_the_delivered_html(start_smtp: StartSmtp) -> None:
    server = start_smtp()
    sender = MailSender(plain_settings(server.port))
    await sender.send(
        outbound(
            "n-3",
            "erika@example.org",
            "de",
            "statement_receipt",
            statement_title="<img src=x onerror=alert(1)>",
        )
    )
    text, html = parts(server.handler.received[0].message)
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Betreff: <img src=x onerror=alert(1)>" in text


async def test_extra_headers_and_text_only_mail(start_smtp: StartSmtp) -> None:
    server = start_smtp()
    sender = MailSender(plain_settings(server.port, message_id_domain="mail.heidelberg.example"))
    await sender.send(
        OutboundMail(
            message_id="x-1",
            to="erika@example.org",
            lang="en",
            subject="Grüße – plain",
            text="Nur Text: äöü ß\n",
            headers={"List-Id": "<bp-nord.heidelberg.example>"},
        )
    )
    message = server.handler.received[0].message
    assert message["Message-ID"] == "<x-1@mail.heidelberg.example>"
    assert message["List-Id"] == "<bp-nord.heidelberg.example>"
    assert message["Subject"] == "Grüße – plain"
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == "Nur Text: äöü ß\n"


@pytest.mark.parametrize(
    ("reply", "retryable", "status"),
    [
        ("451 4.7.1 Greylisted, please try again later", True, 451),
        ("452 4.2.2 Mailbox full", True, 452),
        ("550 5.1.1 <{address}>: Recipient address rejected: User unknown", False, 550),
        ("553 5.7.1 Relaying denied", False, 553),
    ],
)
async def test_refused_recipient_is_classified_by_reply_code(
    start_smtp: StartSmtp, reply: str, retryable: bool, status: int
) -> None:
    server = start_smtp(RecordingHandler(rcpt_reply=reply))
    sender = MailSender(plain_settings(server.port))
    with pytest.raises(DeliveryError) as caught:
        await sender.send(outbound("n-4", "erika@example.org", "de", "reminder"))
    assert caught.value.retryable is retryable
    assert caught.value.status == status
    assert caught.value.channel == "mail"
    assert ("temporary" if retryable else "permanent") in str(caught.value)
    assert "erika@example.org" not in str(caught.value)  # messages end up in logs
    assert server.handler.received == []


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("421 4.3.2 Service shutting down", True), ("554 5.6.0 Message rejected as spam", False)],
)
async def test_refused_data_is_classified_by_reply_code(
    start_smtp: StartSmtp, reply: str, retryable: bool
) -> None:
    server = start_smtp(RecordingHandler(data_reply=reply))
    sender = MailSender(plain_settings(server.port))
    with pytest.raises(DeliveryError) as caught:
        await sender.send(outbound("n-5", "erika@example.org", "de", "reminder"))
    assert caught.value.retryable is retryable
    assert caught.value.status == int(reply[:3])


async def test_refused_sender_is_permanent(start_smtp: StartSmtp) -> None:
    server = start_smtp(RecordingHandler(mail_reply="550 5.7.1 Sender not permitted"))
    sender = MailSender(plain_settings(server.port))
    with pytest.raises(DeliveryError, match="SenderRefused") as caught:
        await sender.send(outbound("n-5b", "erika@example.org", "de", "reminder"))
    assert (caught.value.retryable, caught.value.status) == (False, 550)


async def test_reply_to_and_bounce_address(start_smtp: StartSmtp) -> None:
    server = start_smtp()
    settings = plain_settings(
        server.port,
        reply_to="buergerbeteiligung@heidelberg.example",
        envelope_from="bounces@heidelberg.example",
    )
    await MailSender(settings).send(outbound("n-5c", "erika@example.org", "de", "reminder"))
    [got] = server.handler.received
    assert got.mail_from == "bounces@heidelberg.example"
    assert got.message["Reply-To"] == "buergerbeteiligung@heidelberg.example"
    assert got.message["From"].addresses[0].addr_spec == "beteiligung@heidelberg.example"


async def test_refused_connection_is_retryable() -> None:
    sender = MailSender(plain_settings(free_port()))  # nothing listens there
    with pytest.raises(DeliveryError, match="unavailable") as caught:
        await sender.send(outbound("n-6", "erika@example.org", "de", "reminder"))
    assert caught.value.retryable is True
    assert caught.value.status is None


async def test_silent_server_times_out_as_retryable() -> None:
    async def never_greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # holds the connection open without a greeting until closed
        writer.close()

    server = await asyncio.start_server(never_greet, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        sender = MailSender(plain_settings(port, timeout_seconds=0.3))
        with pytest.raises(DeliveryError) as caught:
            await sender.send(outbound("n-7", "erika@example.org", "de", "reminder"))
        assert caught.value.retryable is True
    finally:
        server.close()
        await server.wait_closed()


async def test_starttls_with_login(start_smtp: StartSmtp, certificate: Certificate) -> None:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        ok = auth.login == b"civicflow" and auth.password == b"s3cret-for-tests"
        return AuthResult(success=ok, handled=False, auth_data=auth)

    server = start_smtp(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    settings = plain_settings(
        server.port,
        security="starttls",
        ca_file=certificate.cert_file,
        username="civicflow",
        password="s3cret-for-tests",
    )
    await MailSender(settings).send(outbound("n-8", "erika@example.org", "de", "reminder"))
    [got] = server.handler.received
    assert got.tls is True
    assert got.login == "civicflow"
    assert got.message["Message-ID"] == "<n-8@heidelberg.example>"


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [
        (None, False),  # aiosmtpd's default: 535 credentials invalid
        ("454 4.7.0 Temporary authentication failure", True),
    ],
)
async def test_failed_login_is_classified(
    start_smtp: StartSmtp, certificate: Certificate, reply: str | None, retryable: bool
) -> None:
    def refuse(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        return AuthResult(success=False, handled=False, message=reply)

    server = start_smtp(
        tls_context=certificate.server_context(), require_starttls=True, authenticator=refuse
    )
    settings = plain_settings(
        server.port,
        security="starttls",
        ca_file=certificate.cert_file,
        username="civicflow",
        password="wrong",
    )
    with pytest.raises(DeliveryError, match="authentication failed") as caught:
        await MailSender(settings).send(outbound("n-9", "erika@example.org", "de", "reminder"))
    assert caught.value.retryable is retryable
    assert caught.value.status == (454 if retryable else 535)
    assert "wrong" not in str(caught.value)


async def test_implicit_tls(start_smtp: StartSmtp, certificate: Certificate) -> None:
    server = start_smtp(ssl_context=certificate.server_context())
    settings = plain_settings(server.port, security="tls", ca_file=certificate.cert_file)
    await MailSender(settings).send(outbound("n-10", "erika@example.org", "en", "reminder"))
    [got] = server.handler.received
    assert got.tls is True
    assert got.message["Content-Language"] == "en"


async def test_untrusted_certificate_is_not_retryable(
    start_smtp: StartSmtp, certificate: Certificate
) -> None:
    server = start_smtp(tls_context=certificate.server_context(), require_starttls=True)
    settings = plain_settings(server.port, security="starttls")  # no ca_file: not trusted
    with pytest.raises(DeliveryError, match="not trusted") as caught:
        await MailSender(settings).send(outbound("n-11", "erika@example.org", "de", "reminder"))
    assert caught.value.retryable is False
    assert server.handler.received == []


async def test_required_starttls_missing_on_server_is_not_retryable(
    start_smtp: StartSmtp,
) -> None:
    server = start_smtp()  # plain server, no STARTTLS offered
    settings = plain_settings(server.port, security="starttls")
    with pytest.raises(DeliveryError) as caught:
        await MailSender(settings).send(outbound("n-12", "erika@example.org", "de", "reminder"))
    assert caught.value.retryable is False
    assert "STARTTLS" in str(caught.value)
    assert server.handler.received == []


def test_header_injection_and_bad_addresses_are_refused() -> None:
    base = {"message_id": "m-1", "to": "erika@example.org", "subject": "Hallo", "text": "x"}
    with pytest.raises(ValidationError, match="subject: expected one line"):
        OutboundMail(**{**base, "subject": "Hallo\r\nBcc: all@example.org"})
    with pytest.raises(ValidationError, match="to: expected one plain mail address"):
        OutboundMail(**{**base, "to": "a@example.org, b@example.org"})
    with pytest.raises(ValidationError, match="cannot be overridden"):
        OutboundMail(**{**base, "headers": {"Bcc": "all@example.org"}})
    with pytest.raises(ValidationError, match="must be one line"):
        OutboundMail(**{**base, "headers": {"X-Tag": "a\nBcc: x@example.org"}})
    with pytest.raises(ValidationError, match="message_id: expected printable"):
        OutboundMail(**{**base, "message_id": "has space"})
    assert OutboundMail(**{**base, "message_id": "<a@b>"}).message_id == "a@b"


def test_settings_refuse_half_configured_auth() -> None:
    with pytest.raises(ValidationError, match="username and password must be given together"):
        MailSettings(username="civicflow")
    assert "hunter2" not in repr(MailSettings(username="u", password="hunter2"))


def test_sender_from_env_only_when_a_host_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVICFLOW_SMTP_HOST", raising=False)
    assert mail_sender_from_env() is None
    monkeypatch.setenv("CIVICFLOW_SMTP_HOST", "mail.heidelberg.example")
    monkeypatch.setenv("CIVICFLOW_SMTP_PORT", "465")
    monkeypatch.setenv("CIVICFLOW_SMTP_SECURITY", "tls")
    sender = mail_sender_from_env()
    assert sender is not None
    assert (sender.settings.host, sender.settings.port, sender.settings.security) == (
        "mail.heidelberg.example",
        465,
        "tls",
    )
