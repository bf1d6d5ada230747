"""Seed public-site test data through the real storage activities (the engine's write path).

Each helper builds the records the `Procedure` workflow would build and hands them to
`StorageActivities`, so the trigger-maintained read model (migration 0005) sees exactly the
events a running procedure appends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from activities import contracts as c
from activities.records import (
    CommitmentRecord,
    DecisionRecord,
    EventRecord,
    ParticipantRecord,
    ProcedureRecord,
    ProgressReportRecord,
    StatementRecord,
    stable_id,
)
from activities.storage.activities import StorageActivities
from definitions import loader

__all__ = ["Seeder"]

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


@dataclass
class Seeder:
    """Writes one procedure's life through the storage activities, step by step."""

    pool: asyncpg.Pool
    storage: StorageActivities = field(init=False)
    _events: dict[str, int] = field(default_factory=dict)
    _statements: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.storage = StorageActivities(self.pool)

    async def event(
        self,
        procedure_id: str,
        type_: str,
        payload: dict[str, Any],
        *,
        at: datetime,
        phase_id: str | None = None,
        round_: int = 1,
    ) -> None:
        n = self._events.get(procedure_id, 0) + 1
        self._events[procedure_id] = n
        record = EventRecord(
            procedure_id=procedure_id,
            event_id=stable_id(procedure_id, "event", str(n)),
            type=type_,
            occurred_at=at,
            phase_id=phase_id,
            round=round_,
            payload=payload,
        )
        await self.storage.append_events(
            c.AppendEventsInput(procedure_id=procedure_id, events=[record])
        )

    async def procedure(
        self,
        procedure_id: str,
        *,
        title: str,
        definition_id: str = "baugb-3-2",
        municipality: str = "08221000",
        land: str = "BW",
        started_at: datetime = T0,
    ) -> None:
        loaded = loader.load_definition(definition_id)
        defn = loaded.definition
        params = {p.name: p.default for p in defn.parameters}
        await self.storage.record_procedure(
            c.RecordProcedureInput(
                procedure=ProcedureRecord(
                    procedure_id=procedure_id,
                    definition_id=defn.id,
                    definition_version=defn.version,
                    definition_hash=loaded.content_hash,
                    title=title,
                    municipality=municipality,
                    land=land,
                    started_at=started_at,
                    parameters=params,
                )
            )
        )
        await self.event(
            procedure_id,
            "procedure.started",
            {
                "definition_id": defn.id,
                "definition_version": defn.version,
                "definition_hash": loaded.content_hash,
                "municipality": municipality,
                "land": land,
            },
            at=started_at,
            phase_id=defn.first_phase_id(),
        )

    async def phase(
        self,
        procedure_id: str,
        phase_id: str,
        phase_type: str,
        *,
        start: date,
        end: date | None,
        at: datetime,
        round_: int = 1,
        visit: int = 1,
        limited_to: str | None = None,
    ) -> None:
        await self.event(
            procedure_id,
            "phase.changed",
            {
                "phase_id": phase_id,
                "phase_type": phase_type,
                "round": round_,
                "visit": visit,
                "period_start": start.isoformat(),
                "period_end": end.isoformat() if end else None,
                "limited_to": limited_to,
            },
            at=at,
            phase_id=phase_id,
            round_=round_,
        )

    async def end_phase(
        self, procedure_id: str, phase_id: str, *, at: datetime, reason: str = "deadline"
    ) -> None:
        await self.event(
            procedure_id,
            "phase.ended",
            {"phase_id": phase_id, "round": 1, "reason": reason, "counts": {}},
            at=at,
            phase_id=phase_id,
        )

    async def extend(
        self, procedure_id: str, phase_id: str, old: date, new: date, *, at: datetime
    ) -> None:
        await self.event(
            procedure_id,
            "deadline.extended",
            {"from": old.isoformat(), "to": new.isoformat(), "reason": "Ferien"},
            at=at,
            phase_id=phase_id,
        )

    async def participant(
        self, procedure_id: str, key: str, *, name: str, email: str, at: datetime = T0
    ) -> str:
        pid = stable_id(procedure_id, "participant", key)
        await self.storage.register_participant(
            c.RegisterParticipantInput(
                participant=ParticipantRecord(
                    procedure_id=procedure_id,
                    participant_id=pid,
                    role="public",
                    name=name,
                    email=email,
                    address="Hauptstraße 1, 69117 Heidelberg",
                    registered_at=at,
                )
            )
        )
        return pid

    async def statements(
        self,
        procedure_id: str,
        phase_id: str,
        types: list[str],
        *,
        at: datetime,
        round_: int = 1,
        author: str | None = None,
        late: bool = False,
        text: str = "Ich bin gegen den Plan.",
    ) -> None:
        records = []
        for statement_type in types:
            n = self._statements.get(procedure_id, 0) + 1
            self._statements[procedure_id] = n
            sid = stable_id(procedure_id, "statement", f"key-{n}")
            records.append(
                StatementRecord(
                    procedure_id=procedure_id,
                    statement_id=sid,
                    sequence=n,
                    round=round_,
                    phase_id=phase_id,
                    author_ref=author,
                    statement_type=statement_type,
                    text=f"{text} ({n})",
                    received_at=at + timedelta(minutes=n),
                    late=late,
                    receipt_digest=_digest(sid, text),
                )
            )
        await self.storage.store_statements(
            c.StoreStatementsInput(procedure_id=procedure_id, statements=records)
        )

    async def decision(
        self,
        procedure_id: str,
        key: str,
        *,
        title: str,
        outcome: str,
        at: datetime,
        body: str = "council",
        phase_id: str = "decision",
    ) -> str:
        did = stable_id(procedure_id, "decision", key)
        await self.storage.store_decision(
            c.StoreDecisionInput(
                decision=DecisionRecord(
                    procedure_id=procedure_id,
                    decision_id=did,
                    round=1,
                    phase_id=phase_id,
                    body=body,
                    outcome=outcome,
                    title=title,
                    text="Der Gemeinderat hat beschlossen.",
                    decided_at=at,
                    receipt_digest=_digest(did),
                )
            )
        )
        await self.event(
            procedure_id,
            "decision.recorded",
            {"decision_id": did, "body": body, "outcome": outcome},
            at=at,
            phase_id=phase_id,
        )
        return did

    async def commitment(
        self,
        procedure_id: str,
        key: str,
        *,
        title: str,
        due: date,
        at: datetime,
        owner_role: str = "council",
        organisation: str = "Stadt Heidelberg, Amt für Verkehr",
        aim: str = "20 neue Fahrradbügel",
        phase_id: str = "decision",
    ) -> str:
        cid = stable_id(procedure_id, "commitment", key)
        await self.storage.store_commitment(
            c.StoreCommitmentInput(
                commitment=CommitmentRecord(
                    procedure_id=procedure_id,
                    commitment_id=cid,
                    phase_id=phase_id,
                    owner_role=owner_role,
                    owner_organisation=organisation,
                    title=title,
                    measurable_aim=aim,
                    due_date=due,
                    created_at=at,
                    receipt_digest=_digest(cid),
                )
            )
        )
        return cid

    async def progress(
        self,
        procedure_id: str,
        commitment_id: str,
        key: str,
        *,
        status: str,
        percent: int,
        at: datetime,
        reporter: str | None = None,
        phase_id: str = "decision",
    ) -> None:
        rid = stable_id(procedure_id, "report", key)
        await self.storage.store_progress_report(
            c.StoreProgressReportInput(
                report=ProgressReportRecord(
                    procedure_id=procedure_id,
                    report_id=rid,
                    commitment_id=commitment_id,
                    phase_id=phase_id,
                    status=status,
                    progress_percent=percent,
                    text=f"{percent} % erledigt",
                    reporter_ref=reporter,
                    reported_at=at,
                    receipt_digest=_digest(rid),
                )
            )
        )
