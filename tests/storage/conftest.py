"""Fixtures and record factories for the storage tests (real PostgreSQL, one schema per test)."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import CollectorRegistry, Counter, Gauge

from activities import contracts
from activities.notify.mail import MailSender, MailSettings
from activities.notify.webhook import WebhookSender
from activities.records import (
    CommitmentRecord,
    EventRecord,
    ParticipantRecord,
    ProcedureRecord,
    StatementRecord,
    stable_id,
)
from activities.storage.activities import StorageActivities
from activities.storage.settings import StorageSettings
from tests.helpers import free_port

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PROCEDURE = "bplan-heidelberg-42"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class FreshMetrics:
    """The storage part of `activities.metrics.Metrics`, in a registry of its own."""

    registry: CollectorRegistry
    procedures_started: Counter
    statements_received: Counter
    outbox_incidents: Gauge

    @classmethod
    def fresh(cls) -> FreshMetrics:
        reg = CollectorRegistry()
        return cls(
            reg,
            Counter("civicflow_procedures_started", "t", registry=reg),
            Counter("civicflow_statements_received", "t", registry=reg),
            Gauge("civicflow_outbox_incidents", "t", registry=reg),
        )

    def value(self, name: str) -> float:
        found = self.registry.get_sample_value(name)
        return 0.0 if found is None else found


@pytest.fixture
def metrics() -> FreshMetrics:
    return FreshMetrics.fresh()


@pytest.fixture
def storage(db_pool: asyncpg.Pool, metrics: FreshMetrics) -> StorageActivities:
    return StorageActivities(db_pool, metrics, StorageSettings())


@pytest.fixture
async def procedure(storage: StorageActivities) -> str:
    """A recorded procedure; returns its id."""
    await storage.record_procedure(contracts.RecordProcedureInput(procedure=procedure_record()))
    return PROCEDURE


def procedure_record(procedure_id: str = PROCEDURE) -> ProcedureRecord:
    return ProcedureRecord(
        procedure_id=procedure_id,
        definition_id="baugb_3_2",
        definition_version="1",
        definition_hash=digest("definition"),
        title="Bebauungsplan Bahnstadt West",
        municipality="08221000",
        land="BW",
        started_at=T0,
        parameters={"area_ha": 12.5, "districts": ["Bahnstadt"]},
    )


@dataclass(frozen=True)
class ProcedureScan:
    """How PostgreSQL found one procedure's statements (EXPLAIN ANALYZE, seq scans off)."""

    indexes: list[str]
    rows: int
    heap_blocks: int
    """Heap pages read: those of the ranges the index could not rule out."""


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


async def scan_for_procedure(conn: asyncpg.Connection, procedure_id: str) -> ProcedureScan:
    """Count `procedure_id`'s statements as public counts and verify select them."""
    async with conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        explained = await conn.fetchval(
            "EXPLAIN (ANALYZE, FORMAT JSON) "
            "SELECT count(*) FROM statements WHERE procedure_id = $1",
            procedure_id,
        )
    nodes = _plan_nodes(json.loads(explained)[0]["Plan"])
    heap = next(n for n in nodes if n["Node Type"] == "Bitmap Heap Scan")
    return ProcedureScan(
        indexes=[n["Index Name"] for n in nodes if n["Node Type"] == "Bitmap Index Scan"],
        rows=int(heap["Actual Rows"]),
        heap_blocks=int(heap.get("Lossy Heap Blocks", 0)) + int(heap.get("Exact Heap Blocks", 0)),
    )


def statement(n: int, procedure_id: str = PROCEDURE, *, text: str | None = None) -> StatementRecord:
    body = text if text is not None else f"Stellungnahme {n}: " + "Lärmschutz " * 25
    return StatementRecord(
        procedure_id=procedure_id,
        statement_id=stable_id(procedure_id, "statement", str(n)),
        sequence=n,
        round=1,
        phase_id="auslegung",
        author_ref=None,
        statement_type="citizen",
        text=body,
        attachments=[f"https://portal.example.org/a/{n}.pdf"] if n % 3 == 0 else [],
        received_at=T0 + timedelta(minutes=n),
        late=n % 7 == 0,
        receipt_digest=digest(body),
    )


def event(n: int, procedure_id: str = PROCEDURE, *, type: str = "phase.changed") -> EventRecord:
    return EventRecord(
        procedure_id=procedure_id,
        event_id=stable_id(procedure_id, "event", str(n)),
        type=type,
        occurred_at=T0 + timedelta(hours=n),
        phase_id="auslegung",
        round=1,
        payload={"n": n, "phase": "auslegung"},
    )


def participant(
    n: int, procedure_id: str = PROCEDURE, *, role: str = "public"
) -> ParticipantRecord:
    return ParticipantRecord(
        procedure_id=procedure_id,
        participant_id=stable_id(procedure_id, "participant", str(n)),
        role=role,
        name=f"Erika Mustermann {n}",
        email=f"erika{n}@example.org",
        address=f"Hauptstraße {n}, 69117 Heidelberg",
        language="de",
        registered_at=T0,
    )


def commitment(n: int, procedure_id: str = PROCEDURE) -> CommitmentRecord:
    return CommitmentRecord(
        procedure_id=procedure_id,
        commitment_id=stable_id(procedure_id, "commitment", str(n)),
        phase_id="verpflichtung",
        owner_role="administration",
        owner_organisation="Stadtplanungsamt",
        title="Lärmschutzwand",
        measurable_aim="Lärmpegel nachts unter 45 dB(A) an allen Messpunkten",
        due_date=date(2027, 6, 30),
        created_at=T0,
        receipt_digest=digest(f"commitment {n}"),
    )


# Real servers for delivery tests ---------------------------------------------------------


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """A minimal HTTP/1.1 webhook receiver: records requests, answers with `status`."""

    status: int = 200
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.hits.append(Hit(headers, body))
            reply = f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            writer.write(reply.encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@pytest.fixture
async def receiver() -> AsyncIterator[HttpReceiver]:
    recv = HttpReceiver()
    recv.server = await asyncio.start_server(recv.handle, "127.0.0.1", 0)
    recv.port = recv.server.sockets[0].getsockname()[1]
    try:
        yield recv
    finally:
        recv.server.close()
        await recv.server.wait_closed()


@dataclass
class SmtpHandler:
    """aiosmtpd handler: keeps accepted messages, or answers DATA with `data_reply`."""

    data_reply: str | None = None
    received: list[EmailMessage] = field(default_factory=list)
    rcpt: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.rcpt.extend(envelope.rcpt_tos)
        return "250 accepted"


@dataclass
class Smtp:
    handler: SmtpHandler
    port: int

    def sender(self) -> MailSender:
        return MailSender(MailSettings(host="127.0.0.1", port=self.port, security="none"))


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    """A real SMTP server (aiosmtpd, in its own thread) on a free port."""
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Smtp(handler, port)
    finally:
        controller.stop()


WEBHOOK_SECRET = "s3cr3t-for-tests-only-0123456789"


def storage_with(
    pool: asyncpg.Pool,
    metrics: FreshMetrics,
    *,
    max_attempts: int = 3,
    backoff_seconds: float = 0.0,
    mail: MailSender | None = None,
    webhooks: WebhookSender | None = None,
) -> StorageActivities:
    """Activities that deliver; backoff 0 makes every retry due at once (no sleeping)."""
    settings = StorageSettings(
        outbox_max_attempts=max_attempts, outbox_backoff_base_seconds=backoff_seconds
    )
    return StorageActivities(
        pool,
        metrics,
        settings,
        mail_sender=mail,
        webhook_sender=webhooks,
        secrets={"hooks-portal": WEBHOOK_SECRET}.get,
    )
