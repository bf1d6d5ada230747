"""The dev stack's mail sink: an SMTP server that accepts every mail and keeps it as a file.

Why: invitations, receipts and reminders are part of what a developer checks, and dev mail
must never reach a real relay. `civicflow dev` runs this sink (aiosmtpd, in the stack's own
event loop) and points the worker's mail sender at it through the `CIVICFLOW_SMTP_*`
settings the worker reads anyway, so the code path is the production one up to the socket.

Each accepted message is written to `<directory>/<UTC time>-<random>.eml`, the bytes as
received plus `Return-Path` and `X-Original-To` with the envelope (a Bcc is visible there),
first under a temporary name and then renamed, so a reader never sees half a mail. A message
delivered twice (the outbox delivers at least once) is kept twice: both copies carry the same
`Message-ID`. The log names the file and the Message-ID only, no addresses or subjects.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from worker.prometheus import PortInUseError

__all__ = ["MailSink"]

log = structlog.get_logger("civicflow.dev.mail")

_MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a mail with statements attached stays far below


class MailSink:
    """Accepts SMTP on `host:port` (no TLS, no auth: loopback only) and writes .eml files."""

    def __init__(self, directory: Path, *, host: str = "127.0.0.1", port: int = 1025) -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def smtp_settings(self) -> Mapping[str, str]:
        """The `CIVICFLOW_SMTP_*` values that send the worker's mail here."""
        return {
            "CIVICFLOW_SMTP_HOST": self.host,
            "CIVICFLOW_SMTP_PORT": str(self.port),
            "CIVICFLOW_SMTP_SECURITY": "none",
        }

    def saved(self) -> list[Path]:
        """The mails kept so far, oldest first."""
        return sorted(self.directory.glob("*.eml"))

    async def start(self) -> None:
        """Create the directory and listen; `PortInUseError` names the port and the flag."""
        self.directory.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: SMTP(
                    self,
                    hostname="civicflow-dev-mailsink",  # skips a getfqdn() DNS lookup
                    data_size_limit=_MAX_MESSAGE_BYTES,
                    enable_SMTPUTF8=True,
                ),
                self.host,
                self.port,
            )
        except OSError as err:
            msg = (
                f"port {self.port} (mail sink) cannot be bound on {self.host} ({err.strerror}): "
                "choose another port with --mail-port"
            )
            raise PortInUseError(msg) from err

    async def stop(self) -> None:
        """Stop listening and wait for open sessions to be closed."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        """aiosmtpd hook: keep the message, answer 250 (or 451 if it cannot be written)."""
        content = envelope.original_content or b""
        head = (
            f"Return-Path: <{envelope.mail_from or ''}>\r\n"
            f"X-Original-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        try:
            path = await asyncio.to_thread(self._write, head + content)
        except OSError as err:
            log.warning("mail sink cannot write", directory=str(self.directory), error=str(err))
            return "451 Requested action aborted: cannot store the message"
        log.info("mail kept", file=path.name, message_id=_message_id(content))
        return "250 Message accepted for delivery"

    def _write(self, data: bytes) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{secrets.token_hex(3)}.eml"
        partial = path.with_suffix(".eml.part")
        partial.write_bytes(data)
        os.replace(partial, path)
        return path


def _message_id(content: bytes) -> str | None:
    """The Message-ID header of a raw message, without parsing the whole message."""
    for line in content.split(b"\r\n\r\n", 1)[0].splitlines():
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode("ascii", "replace")
    return None
