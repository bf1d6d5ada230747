"""Queries only the feeds and exports need, in addition to `worker.web.readmodel`.

Same rules as the read model: public data only (ids, titles, dates, roles, organisations),
`db` is a pool or connection whose `search_path` is the civicflow schema. Exports page by key
(`WHERE key > last ORDER BY key LIMIT n`), not by OFFSET: every page costs the same, so an
export of 10,000 procedures is as cheap per row as one of ten.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from worker.web import catalogue, readmodel
from worker.web.models import Localized
from worker.web.phases import localized, role_title
from worker.web.readmodel import Db

__all__ = [
    "EXPORT_BATCH",
    "ExportQuery",
    "PublicDecision",
    "cancelled_deadlines",
    "commitment_records",
    "decision_records",
    "iter_decisions",
    "procedure_records",
    "procedure_title",
    "procedure_url",
]

EXPORT_BATCH = 500


async def procedure_title(db: Db, procedure_id: str) -> str | None:
    """The title of a procedure, None if there is none (the 404 check of its calendar)."""
    title: str | None = await db.fetchval(
        "SELECT title FROM procedures WHERE procedure_id = $1", procedure_id
    )
    return title


@dataclass(frozen=True)
class PublicDecision:
    """A decision with the procedure it belongs to (one row of the decisions export)."""

    procedure_id: str
    procedure_title: str
    municipality: str
    decision_id: str
    round: int
    phase_id: str
    body: str
    body_title: Localized | None
    outcome: str
    title: str
    text: str
    decided_at: datetime


async def iter_decisions(
    db: Db,
    *,
    municipality: str | None = None,
    procedure_id: str | None = None,
    batch: int = EXPORT_BATCH,
) -> AsyncIterator[PublicDecision]:
    """Every decision, ordered by (procedure id, decision id), fetched `batch` at a time."""
    last = ("", "")
    while True:
        rows = await db.fetch(
            "SELECT d.procedure_id, d.decision_id, d.round, d.phase_id, d.body, d.outcome, "
            "d.title, d.text, d.decided_at, p.title AS procedure_title, p.municipality, "
            "p.definition_id, p.definition_version "
            "FROM decisions d JOIN procedures p USING (procedure_id) "
            "WHERE (d.procedure_id, d.decision_id) > ($1, $2) "
            "AND ($3::text IS NULL OR p.municipality = $3) "
            "AND ($4::text IS NULL OR d.procedure_id = $4) "
            "ORDER BY d.procedure_id, d.decision_id LIMIT $5",
            last[0],
            last[1],
            municipality,
            procedure_id,
            batch,
        )
        for r in rows:
            defn = catalogue.definition(r["definition_id"], r["definition_version"])
            yield PublicDecision(
                procedure_id=r["procedure_id"],
                procedure_title=r["procedure_title"],
                municipality=r["municipality"],
                decision_id=r["decision_id"],
                round=r["round"],
                phase_id=r["phase_id"],
                body=r["body"],
                body_title=role_title(defn, r["body"]),
                outcome=r["outcome"],
                title=r["title"],
                text=r["text"],
                decided_at=r["decided_at"],
            )
        if len(rows) < batch:
            return
        last = (rows[-1]["procedure_id"], rows[-1]["decision_id"])


# ----------------------------------------------------------------------------- export records


@dataclass(frozen=True)
class ExportQuery:
    """What an export asks for: filters, the language of titles, where links point."""

    site_url: str  # absolute base URL of the site, ends with "/"
    lang: str = "de"
    municipality: str | None = None
    procedure_id: str | None = None
    today: date | None = None  # Berlin date that decides "overdue"; None: today


def procedure_url(site_url: str, procedure_id: str) -> str:
    """Absolute URL of a procedure's public page."""
    return f"{site_url}procedures/{quote(procedure_id, safe='')}"


def _text(value: Localized | None, lang: str) -> str | None:
    return value.get(lang) if value is not None else None


async def procedure_records(db: Db, q: ExportQuery) -> AsyncIterator[dict[str, Any]]:
    """One flat record per procedure, by procedure id, fields as `exports.DATASETS` names.

    The same values as `readmodel.list_procedures` (a test compares them), read by key.
    """
    last = ""
    while True:
        rows = await db.fetch(
            "SELECT p.procedure_id, p.title, p.municipality, p.land, p.definition_id, "
            "p.definition_version, p.started_at, coalesce(s.state, 'running') AS state, "
            "s.phase_id, s.phase_type, s.round, s.period_start, s.period_end "
            "FROM procedures p LEFT JOIN public_procedure_status s USING (procedure_id) "
            "WHERE p.procedure_id > $1 AND ($2::text IS NULL OR p.municipality = $2) "
            "AND ($3::text IS NULL OR p.procedure_id = $3) "
            "ORDER BY p.procedure_id LIMIT $4",
            last,
            q.municipality,
            q.procedure_id,
            EXPORT_BATCH,
        )
        for r in rows:
            defn = catalogue.definition(r["definition_id"], r["definition_version"])
            phase_title = None
            if defn is not None and r["phase_id"] is not None:
                phase_title = next(
                    (localized(p.title) for p in defn.phases if p.id == r["phase_id"]), None
                )
            yield {
                "procedure_id": r["procedure_id"],
                "title": r["title"],
                "municipality": r["municipality"],
                "land": r["land"],
                "kind": defn.kind if defn is not None else r["definition_id"],
                "definition_id": r["definition_id"],
                "definition_version": r["definition_version"],
                "definition_title": _text(localized(defn.title), q.lang) if defn else None,
                "started_at": r["started_at"],
                "state": r["state"],
                "phase_id": r["phase_id"],
                "phase_type": r["phase_type"],
                "phase_title": _text(phase_title, q.lang),
                "round": r["round"],
                "period_start": r["period_start"],
                "period_end": r["period_end"],
                "url": procedure_url(q.site_url, r["procedure_id"]),
            }
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1]["procedure_id"]


async def decision_records(db: Db, q: ExportQuery) -> AsyncIterator[dict[str, Any]]:
    """One flat record per decision, by procedure id and decision id."""
    async for d in iter_decisions(db, municipality=q.municipality, procedure_id=q.procedure_id):
        yield {
            "procedure_id": d.procedure_id,
            "procedure_title": d.procedure_title,
            "municipality": d.municipality,
            "decision_id": d.decision_id,
            "round": d.round,
            "phase_id": d.phase_id,
            "body": d.body,
            "body_title": _text(d.body_title, q.lang),
            "outcome": d.outcome,
            "title": d.title,
            "text": d.text,
            "decided_at": d.decided_at,
            "url": f"{procedure_url(q.site_url, d.procedure_id)}#decision-{d.decision_id}",
        }


# The tracker's rule (worker.web.commitments): done and dropped as reported; overdue when a
# report said so or the due date (a Berlin date, $1) has passed; else on track.
_PUBLIC_STATUS = (
    "CASE WHEN c.status IN ('done', 'dropped') THEN c.status "
    "WHEN c.status = 'overdue' OR c.due_date < $1 THEN 'overdue' ELSE 'on_track' END"
)


async def commitment_records(db: Db, q: ExportQuery) -> AsyncIterator[dict[str, Any]]:
    """One flat record per commitment, by procedure id and commitment id, with its newest
    progress. The same values as the commitments tracker (a test compares them), read by key."""
    today = q.today or readmodel.today_in_berlin()
    last = ("", "")
    while True:
        rows = await db.fetch(
            "SELECT c.procedure_id, c.commitment_id, c.phase_id, c.owner_role, "
            "c.owner_organisation, c.title, c.measurable_aim, c.due_date, c.status, "
            f"c.status_changed_at, c.created_at, {_PUBLIC_STATUS} AS public_status, "
            "p.title AS procedure_title, p.municipality, p.definition_id, "
            "p.definition_version, r.progress_percent, r.reported_at "
            "FROM commitments c JOIN procedures p USING (procedure_id) "
            "LEFT JOIN LATERAL (SELECT progress_percent, reported_at FROM progress_reports r "
            "  WHERE r.procedure_id = c.procedure_id AND r.commitment_id = c.commitment_id "
            "  ORDER BY r.reported_at DESC, r.report_id DESC LIMIT 1) r ON true "
            "WHERE (c.procedure_id, c.commitment_id) > ($2, $3) "
            "AND ($4::text IS NULL OR p.municipality = $4) "
            "AND ($5::text IS NULL OR c.procedure_id = $5) "
            "ORDER BY c.procedure_id, c.commitment_id LIMIT $6",
            today,
            last[0],
            last[1],
            q.municipality,
            q.procedure_id,
            EXPORT_BATCH,
        )
        for r in rows:
            defn = catalogue.definition(r["definition_id"], r["definition_version"])
            pid, cid = r["procedure_id"], r["commitment_id"]
            yield {
                "procedure_id": pid,
                "procedure_title": r["procedure_title"],
                "municipality": r["municipality"],
                "commitment_id": cid,
                "phase_id": r["phase_id"],
                "owner_role": r["owner_role"],
                "owner_role_title": _text(role_title(defn, r["owner_role"]), q.lang),
                "owner_organisation": r["owner_organisation"],
                "title": r["title"],
                "measurable_aim": r["measurable_aim"],
                "due_date": r["due_date"],
                "status": r["status"],
                "public_status": r["public_status"],
                "progress_percent": r["progress_percent"],
                "last_report_at": r["reported_at"],
                "status_changed_at": r["status_changed_at"],
                "created_at": r["created_at"],
                "url": f"{procedure_url(q.site_url, pid)}#commitment-{cid}",
            }
        if len(rows) < EXPORT_BATCH:
            return
        last = (rows[-1]["procedure_id"], rows[-1]["commitment_id"])


async def cancelled_deadlines(
    db: Db, *, procedure_id: str | None = None, municipality: str | None = None
) -> dict[tuple[str, int], datetime]:
    """(procedure id, phase-visit seq) -> when the procedure was cancelled, for the phase
    visits whose deadline was still ahead then: that deadline no longer holds."""
    rows = await db.fetch(
        "SELECT v.procedure_id, v.seq, v.ended_at FROM public_phase_periods v "
        "JOIN procedures p USING (procedure_id) "
        "WHERE v.end_reason = 'cancelled' AND v.period_end IS NOT NULL "
        "AND ($1::text IS NULL OR v.procedure_id = $1) "
        "AND ($2::text IS NULL OR p.municipality = $2)",
        procedure_id,
        municipality,
    )
    return {(r["procedure_id"], r["seq"]): r["ended_at"] for r in rows}
