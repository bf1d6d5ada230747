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
from worker.web.models import CommitmentFilters, Localized, ProcedureFilters, RecentItem
from worker.web.phases import role_title
from worker.web.readmodel import Db

__all__ = [
    "EXPORT_BATCH",
    "ExportQuery",
    "PublicDecision",
    "commitment_records",
    "decision_records",
    "iter_decisions",
    "procedure_records",
    "procedure_title",
    "procedure_url",
    "recent_items_in",
]

EXPORT_BATCH = 500


async def procedure_title(db: Db, procedure_id: str) -> str | None:
    """The title of a procedure, None if there is none (the 404 check of its calendar)."""
    title: str | None = await db.fetchval(
        "SELECT title FROM procedures WHERE procedure_id = $1", procedure_id
    )
    return title


async def recent_items_in(
    db: Db, *, municipality: str | None = None, limit: int = 50
) -> list[RecentItem]:
    """`readmodel.recent_items`, optionally only of one municipality (its Atom feed)."""
    if municipality is None:
        return await readmodel.recent_items(db, limit)
    if not 1 <= limit <= 1000:
        msg = f"limit: expected an integer from 1 to 1000, got {limit}"
        raise ValueError(msg)
    rows = await db.fetch(
        "(SELECT 'procedure' AS kind, p.procedure_id, p.procedure_id AS item_id, p.title, "
        "p.title AS procedure_title, p.started_at AS at, '' AS outcome, '' AS body, "
        "p.definition_id, p.definition_version FROM procedures p WHERE p.municipality = $2 "
        "ORDER BY p.started_at DESC LIMIT $1) "
        "UNION ALL "
        "(SELECT 'decision', d.procedure_id, d.decision_id, d.title, p.title, d.decided_at, "
        "d.outcome, d.body, p.definition_id, p.definition_version "
        "FROM decisions d JOIN procedures p USING (procedure_id) WHERE p.municipality = $2 "
        "ORDER BY d.decided_at DESC LIMIT $1) "
        "ORDER BY at DESC, item_id LIMIT $1",
        limit,
        municipality,
    )
    out = []
    for r in rows:
        defn = catalogue.definition(r["definition_id"], r["definition_version"])
        if r["kind"] == "procedure":
            summary = defn.title.de if defn is not None else r["definition_id"]
            extra = {"definition_id": r["definition_id"]}
        else:
            summary = f"{r['body']}: {r['outcome']}"
            extra = {"outcome": r["outcome"], "body": r["body"]}
        out.append(
            RecentItem(
                kind=r["kind"],
                procedure_id=r["procedure_id"],
                item_id=r["item_id"],
                title=r["title"],
                procedure_title=r["procedure_title"],
                municipality=municipality,
                published_at=r["at"],
                summary=summary,
                extra=extra,
            )
        )
    return out


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
    """One flat record per procedure (newest first), fields as `exports.DATASETS` names."""
    filters = ProcedureFilters(municipality=q.municipality)
    async for s in readmodel.iter_procedures(db, filters):
        if q.procedure_id is not None and s.procedure_id != q.procedure_id:
            continue
        yield {
            "procedure_id": s.procedure_id,
            "title": s.title,
            "municipality": s.municipality,
            "land": s.land,
            "kind": s.kind,
            "definition_id": s.definition_id,
            "definition_version": s.definition_version,
            "definition_title": _text(s.definition_title, q.lang),
            "started_at": s.started_at,
            "state": s.state,
            "phase_id": s.phase_id,
            "phase_type": s.phase_type,
            "phase_title": _text(s.phase_title, q.lang),
            "round": s.round,
            "period_start": s.period_start,
            "period_end": s.period_end,
            "url": procedure_url(q.site_url, s.procedure_id),
        }


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


async def commitment_records(db: Db, q: ExportQuery) -> AsyncIterator[dict[str, Any]]:
    """One flat record per commitment (soonest due first), with its newest progress."""
    filters = CommitmentFilters(municipality=q.municipality, procedure_id=q.procedure_id)
    today = q.today or readmodel.today_in_berlin()
    async for c in readmodel.iter_commitments(db, filters, today=today):
        yield {
            "procedure_id": c.procedure_id,
            "procedure_title": c.procedure_title,
            "municipality": c.municipality,
            "commitment_id": c.commitment_id,
            "phase_id": c.phase_id,
            "owner_role": c.owner_role,
            "owner_role_title": _text(c.owner_role_title, q.lang),
            "owner_organisation": c.owner_organisation,
            "title": c.title,
            "measurable_aim": c.measurable_aim,
            "due_date": c.due_date,
            "status": c.status,
            "public_status": c.public_status,
            "progress_percent": c.progress_percent,
            "last_report_at": c.reports[-1].reported_at if c.reports else None,
            "status_changed_at": c.status_changed_at,
            "created_at": c.created_at,
            "url": f"{procedure_url(q.site_url, c.procedure_id)}#commitment-{c.commitment_id}",
        }
