"""Fixtures and record factories for the storage tests (real PostgreSQL, one schema per test)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from activities import contracts
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
