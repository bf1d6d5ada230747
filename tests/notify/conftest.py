"""Fixtures for notification tests: a real SMTP server (aiosmtpd) and a self-signed certificate.

The SMTP server runs in aiosmtpd's own thread and event loop, exactly as a separate mail
server would; handlers record what arrived or answer with a configured SMTP reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import free_port


@dataclass
class Received:
    """One message as the SMTP server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    login: str | None


@dataclass
class RecordingHandler:
    """Accepts everything and keeps it; optional fixed replies to RCPT or DATA."""

    mail_reply: str | None = None
    rcpt_reply: str | None = None
    data_reply: str | None = None
    rcpt_script: list[str | None] = field(default_factory=list)  # replies in turn; None accepts
    rcpt_attempts: int = 0
    received: list[Received] = field(default_factory=list)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: Any
    ) -> str:
        if self.mail_reply is not None:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        self.rcpt_attempts += 1
        scripted = self.rcpt_script.pop(0) if self.rcpt_script else None
        reply = scripted or self.rcpt_reply
        if reply is not None:
            return reply.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        login = auth.login.decode() if session.authenticated and auth is not None else None
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                message=message,
                # session.ssl is set by STARTTLS; implicit TLS shows on the transport.
                tls=session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
                login=login,
            )
        )
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int


StartSmtp = Callable[..., SmtpServer]


@pytest.fixture
def start_smtp() -> Iterator[StartSmtp]:
    """Start aiosmtpd servers on free ports (keyword args go to `Controller`); stop them after."""
    controllers: list[Controller] = []

    def start(handler: RecordingHandler | None = None, **kwargs: Any) -> SmtpServer:
        handler = handler or RecordingHandler()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return SmtpServer(handler=handler, port=port)

    yield start
    for controller in controllers:
        controller.stop()


@dataclass(frozen=True)
class Certificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost, made for this test session."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "civicflow test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file = folder / "cert.pem"
    key_file = folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_file=cert_file, key_file=key_file)


@dataclass
class HttpRequest:
    """One request as the receiver saw it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """What the receiver answers; `hang=True` never answers (until the test ends)."""

    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


_REASONS = {200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request"}


@dataclass
class HttpReceiver:
    """A minimal HTTP/1.1 server on 127.0.0.1: records requests, answers from `replies`.

    Replies are used in order; the last one repeats. Each connection serves one request and
    closes, which is all a webhook sender needs.
    """

    replies: list[Reply] = field(default_factory=lambda: [Reply()])
    requests: list[HttpRequest] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/civicflow?token=url-secret"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers: dict[str, str] = {}
            for line in header_lines:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(HttpRequest(method, path, headers, body))
            reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
            if reply.hang:
                await self._release.wait()
                return
            reason = _REASONS.get(reply.status, "Status")
            lines = [f"HTTP/1.1 {reply.status} {reason}", "Content-Length: 0", "Connection: close"]
            lines += [f"{name}: {value}" for name, value in reply.headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client gave up (timeout test): nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    """A started HTTP receiver; stopped after the test."""
    server = HttpReceiver()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
