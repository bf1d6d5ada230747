"""Commitments and review reports for the public tracker (part of the read model).

The public status of a commitment is derived, not stored: `done` and `dropped` as reported;
`overdue` when a review marked it so or its due date (a Berlin calendar date) has passed
while it is still open; otherwise `on_track`. Deriving it with today's date means a
commitment turns overdue on the page the day after it fell due, before any review ran.
Owners appear by role and organisation only; progress reports without their reporter.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import date
from typing import Any, TypeAlias

import asyncpg

from worker.web import catalogue
from worker.web.models import (
    MAX_PAGE_SIZE,
    CommitmentFilters,
    CommitmentPage,
    Localized,
    PageRequest,
    ProgressReport,
    PublicCommitment,
    ReviewReport,
    ReviewReportEntry,
    ReviewReportPage,
)
from worker.web.phases import localized, role_title
from worker.web.sql import ilike_pattern

__all__ = [
    "commitments_of_procedure",
    "iter_commitments",
    "list_commitments",
    "list_review_reports",
    "review_reports_of_procedure",
]

Db: TypeAlias = asyncpg.Pool | asyncpg.Connection

# $1 is today's date in every query that uses it.
_PUBLIC_STATUS = """
    CASE WHEN c.status = 'done' THEN 'done'
         WHEN c.status = 'dropped' THEN 'dropped'
         WHEN c.status = 'overdue' OR c.due_date < $1 THEN 'overdue'
         ELSE 'on_track' END
"""

_COLUMNS = f"""
    c.procedure_id, c.commitment_id, c.phase_id, c.owner_role, c.owner_organisation, c.title,
    c.measurable_aim, c.due_date, c.status, c.status_changed_at, c.created_at,
    p.title AS procedure_title, p.municipality, p.definition_id, p.definition_version,
    {_PUBLIC_STATUS} AS public_status
"""


def _where(filters: CommitmentFilters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args) + 1}"  # $1 is today

    if filters.procedure_id is not None:
        clauses.append(f"c.procedure_id = {arg(filters.procedure_id)}")
    if filters.municipality is not None:
        clauses.append(f"p.municipality = {arg(filters.municipality)}")
    if filters.status is not None:
        clauses.append(f"({_PUBLIC_STATUS}) = {arg(filters.status)}")
    if filters.organisation:
        pattern = ilike_pattern(filters.organisation.strip())
        clauses.append(f"c.owner_organisation ILIKE {arg(pattern)}")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


async def _reports(
    db: Db, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], list[ProgressReport]]:
    if not keys:
        return {}
    rows = await db.fetch(
        "SELECT r.procedure_id, r.commitment_id, r.report_id, r.status, r.progress_percent, "
        "r.text, r.reported_at FROM progress_reports r "
        "JOIN unnest($1::text[], $2::text[]) AS k(procedure_id, commitment_id) "
        "USING (procedure_id, commitment_id) ORDER BY r.reported_at, r.report_id",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    found: dict[tuple[str, str], list[ProgressReport]] = {}
    for r in rows:
        found.setdefault((r["procedure_id"], r["commitment_id"]), []).append(
            ProgressReport(
                report_id=r["report_id"],
                status=r["status"],
                progress_percent=r["progress_percent"],
                text=r["text"],
                reported_at=r["reported_at"],
            )
        )
    return found


async def _build(db: Db, rows: list[Mapping[str, Any]]) -> tuple[PublicCommitment, ...]:
    reports = await _reports(db, [(r["procedure_id"], r["commitment_id"]) for r in rows])
    out = []
    for r in rows:
        defn = catalogue.definition(r["definition_id"], r["definition_version"])
        out.append(
            PublicCommitment(
                procedure_id=r["procedure_id"],
                procedure_title=r["procedure_title"],
                municipality=r["municipality"],
                commitment_id=r["commitment_id"],
                phase_id=r["phase_id"],
                owner_role=r["owner_role"],
                owner_role_title=role_title(defn, r["owner_role"]),
                owner_organisation=r["owner_organisation"],
                title=r["title"],
                measurable_aim=r["measurable_aim"],
                due_date=r["due_date"],
                status=r["status"],
                public_status=r["public_status"],
                status_changed_at=r["status_changed_at"],
                created_at=r["created_at"],
                reports=tuple(reports.get((r["procedure_id"], r["commitment_id"]), ())),
            )
        )
    return tuple(out)


async def list_commitments(
    db: Db,
    filters: CommitmentFilters | None = None,
    page: PageRequest | None = None,
    *,
    today: date,
) -> CommitmentPage:
    """One page of commitments, soonest due first, with their progress reports."""
    filters = filters or CommitmentFilters()
    page = page or PageRequest()
    where, args = _where(filters)
    source = "FROM commitments c JOIN procedures p USING (procedure_id)"
    # `(SELECT $1::date)` keeps $1 (today) in the count even when no filter uses it.
    total = await db.fetchval(
        f"SELECT count(*) FROM (SELECT $1::date) AS t(today), {source[5:]}{where}", today, *args
    )
    n = len(args) + 1
    rows = await db.fetch(
        f"SELECT {_COLUMNS} {source}{where} "
        f"ORDER BY c.due_date, c.procedure_id, c.commitment_id LIMIT ${n + 1} OFFSET ${n + 2}",
        today,
        *args,
        page.page_size,
        page.offset,
    )
    return CommitmentPage(
        total=int(total),
        page=page.page,
        page_size=page.page_size,
        items=await _build(db, rows),
    )


async def iter_commitments(
    db: Db, filters: CommitmentFilters | None = None, *, today: date
) -> AsyncIterator[PublicCommitment]:
    """Every matching commitment, page by page (for exports)."""
    number = 1
    while True:
        result = await list_commitments(
            db, filters, PageRequest(number, MAX_PAGE_SIZE), today=today
        )
        for item in result.items:
            yield item
        if not result.has_next:
            return
        number += 1


async def commitments_of_procedure(
    db: Db, procedure_id: str, *, today: date
) -> tuple[PublicCommitment, ...]:
    """All commitments of one procedure (a procedure has tens, not thousands)."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM commitments c JOIN procedures p USING (procedure_id) "
        "WHERE c.procedure_id = $2 ORDER BY c.due_date, c.commitment_id",
        today,
        procedure_id,
    )
    return await _build(db, rows)


def _phase_title(row: Mapping[str, Any]) -> Localized | None:
    defn = catalogue.definition(row["definition_id"], row["definition_version"])
    if defn is None:
        return None
    return next((localized(p.title) for p in defn.phases if p.id == row["phase_id"]), None)


async def _review_rows(db: Db, rows: list[Mapping[str, Any]]) -> tuple[ReviewReport, ...]:
    ids = sorted({(r["procedure_id"], cid) for r in rows for cid in _statuses(r)})
    titles: dict[tuple[str, str], str] = {}
    if ids:
        found = await db.fetch(
            "SELECT c.procedure_id, c.commitment_id, c.title FROM commitments c "
            "JOIN unnest($1::text[], $2::text[]) AS k(procedure_id, commitment_id) "
            "USING (procedure_id, commitment_id)",
            [i[0] for i in ids],
            [i[1] for i in ids],
        )
        titles = {(f["procedure_id"], f["commitment_id"]): f["title"] for f in found}
    return tuple(
        ReviewReport(
            procedure_id=r["procedure_id"],
            procedure_title=r["procedure_title"],
            municipality=r["municipality"],
            seq=r["seq"],
            phase_id=r["phase_id"],
            phase_title=_phase_title(r),
            round=r["round"],
            cycle=r["cycle"],
            published_at=r["published_at"],
            entries=tuple(
                ReviewReportEntry(cid, titles.get((r["procedure_id"], cid)), status)
                for cid, status in sorted(_statuses(r).items())
            ),
        )
        for r in rows
    )


def _statuses(row: Mapping[str, Any]) -> dict[str, str]:
    raw = row["commitments"]
    data = json.loads(raw) if isinstance(raw, str) else raw
    return {str(k): str(v) for k, v in dict(data or {}).items()}


_REVIEW_SELECT = (
    "SELECT v.*, p.title AS procedure_title, p.municipality, p.definition_id, "
    "p.definition_version FROM public_review_reports v JOIN procedures p USING (procedure_id) "
)


async def list_review_reports(
    db: Db, procedure_id: str | None = None, page: PageRequest | None = None
) -> ReviewReportPage:
    """Published review reports, newest first; of one procedure or all."""
    page = page or PageRequest()
    total = await db.fetchval(
        "SELECT count(*) FROM public_review_reports WHERE $1::text IS NULL OR procedure_id = $1",
        procedure_id,
    )
    rows = await db.fetch(
        _REVIEW_SELECT + "WHERE $1::text IS NULL OR v.procedure_id = $1 "
        "ORDER BY v.published_at DESC, v.procedure_id, v.seq LIMIT $2 OFFSET $3",
        procedure_id,
        page.page_size,
        page.offset,
    )
    return ReviewReportPage(
        total=int(total),
        page=page.page,
        page_size=page.page_size,
        items=await _review_rows(db, rows),
    )


async def review_reports_of_procedure(db: Db, procedure_id: str) -> tuple[ReviewReport, ...]:
    rows = await db.fetch(_REVIEW_SELECT + "WHERE v.procedure_id = $1 ORDER BY v.seq", procedure_id)
    return await _review_rows(db, rows)
