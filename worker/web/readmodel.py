"""The public site's read model: async queries that return `worker.web.models` types.

Pages, feeds and exports call these functions and nothing else, so what is public is decided
here: no participant ids, names or contacts, no statement texts, no reporter references.

For feeds and exports (WEBFEEDS), the stable API is:
- `list_procedures(db, filters, page)` -> `ProcedurePage` (JSON/CSV export of procedures;
  page through with `PageRequest(page, MAX_PAGE_SIZE)` or use `iter_procedures`).
- `get_procedure(db, procedure_id)` -> `ProcedureDetail | None`.
- `list_deadlines(db, procedure_id=..., municipality=...)` -> `list[Deadline]` (iCalendar:
  UID from (procedure_id, seq), SEQUENCE from `extensions`, DTSTAMP from `updated_at`).
- `recent_items(db, limit)` -> `list[RecentItem]` (Atom: new procedures and decisions).
- `list_commitments(db, filters, page, today=...)` -> `CommitmentPage` (and
  `iter_commitments`), `list_review_reports(db, procedure_id, page)` -> `ReviewReportPage`.
- `municipalities(db)`, `catalogue.kinds()` for filter choices; `today_in_berlin()`.
Signatures only gain optional keyword arguments; result types only gain fields.

`db` is an asyncpg pool or connection whose `search_path` is the civicflow schema
(`activities.storage.pool.create_pool(url, schema=CIVICFLOW_DATABASE_SCHEMA)`): no SQL here
names a schema. The current phase comes from the tables migration 0005 keeps up to date by a
trigger on `events`, so the list page never parses event payloads.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

import asyncpg

from worker.web import catalogue
from worker.web.commitments import (
    commitments_of_procedure,
    iter_commitments,
    list_commitments,
    list_review_reports,
    review_reports_of_procedure,
)
from worker.web.models import (
    MAX_PAGE_SIZE,
    Deadline,
    DeadlineExtension,
    Decision,
    Document,
    PageRequest,
    PhaseVisit,
    ProcedureDetail,
    ProcedureFilters,
    ProcedurePage,
    ProcedureSummary,
    RecentItem,
    StatementCount,
)
from worker.web.phases import localized, planned_phases, role_title
from worker.web.sql import ilike_pattern

__all__ = [
    "MAX_PAGE_SIZE",
    "Db",
    "get_procedure",
    "iter_commitments",
    "iter_procedures",
    "list_commitments",
    "list_deadlines",
    "list_procedures",
    "list_review_reports",
    "municipalities",
    "recent_items",
    "today_in_berlin",
]

Db: TypeAlias = asyncpg.Pool | asyncpg.Connection
"""A pool or connection whose search_path is the civicflow schema."""
BERLIN = ZoneInfo("Europe/Berlin")


def today_in_berlin() -> date:
    """Today as German law counts days (due dates and deadlines are Berlin dates)."""
    return datetime.now(BERLIN).date()


_SUMMARY_COLUMNS = """
    p.procedure_id, p.title, p.municipality, p.land, p.definition_id, p.definition_version,
    p.started_at, coalesce(s.state, 'running') AS state, s.phase_id, s.phase_type, s.round,
    s.period_start, s.period_end
"""


def _where(filters: ProcedureFilters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if filters.municipality is not None:
        clauses.append(f"p.municipality = {arg(filters.municipality)}")
    if filters.kind is not None:
        clauses.append(
            f"p.definition_id = ANY({arg(list(catalogue.definition_ids_of_kind(filters.kind)))})"
        )
    if filters.phase is not None:
        clauses.append(f"s.phase_type = {arg(filters.phase)} AND s.state IN ('running', 'paused')")
    if filters.state is not None:
        clauses.append(f"coalesce(s.state, 'running') = {arg(filters.state)}")
    if filters.query:
        clauses.append(f"p.title ILIKE {arg(ilike_pattern(filters.query.strip()))}")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _summary(row: Mapping[str, Any]) -> ProcedureSummary:
    defn = catalogue.definition(row["definition_id"], row["definition_version"])
    phase_title = None
    if defn is not None and row["phase_id"] is not None:
        phase_title = next(
            (localized(p.title) for p in defn.phases if p.id == row["phase_id"]), None
        )
    return ProcedureSummary(
        procedure_id=row["procedure_id"],
        title=row["title"],
        municipality=row["municipality"],
        land=row["land"],
        definition_id=row["definition_id"],
        definition_version=row["definition_version"],
        kind=defn.kind if defn is not None else row["definition_id"],
        definition_title=localized(defn.title) if defn is not None else None,
        started_at=row["started_at"],
        state=row["state"],
        phase_id=row["phase_id"],
        phase_type=row["phase_type"],
        phase_title=phase_title,
        round=row["round"],
        period_start=row["period_start"],
        period_end=row["period_end"],
    )


async def list_procedures(
    db: Db, filters: ProcedureFilters | None = None, page: PageRequest | None = None
) -> ProcedurePage:
    """One page of procedures, newest first, with the total number that match `filters`."""
    filters = filters or ProcedureFilters()
    page = page or PageRequest()
    where, args = _where(filters)
    source = "FROM procedures p LEFT JOIN public_procedure_status s USING (procedure_id)"
    total = await db.fetchval(f"SELECT count(*) {source}{where}", *args)
    n = len(args)
    # Keys first, then the columns of one page: a deep page (OFFSET 8000) skips index
    # entries of `procedures_started_idx` only, instead of joining and sorting every row.
    keys = (
        f"SELECT p.procedure_id {source}{where} "
        f"ORDER BY p.started_at DESC, p.procedure_id LIMIT ${n + 1} OFFSET ${n + 2}"
    )
    rows = await db.fetch(
        f"SELECT {_SUMMARY_COLUMNS} FROM ({keys}) AS k JOIN procedures p USING (procedure_id) "
        "LEFT JOIN public_procedure_status s USING (procedure_id) "
        "ORDER BY p.started_at DESC, p.procedure_id",
        *args,
        page.page_size,
        page.offset,
    )
    return ProcedurePage(
        total=int(total),
        page=page.page,
        page_size=page.page_size,
        items=tuple(_summary(r) for r in rows),
    )


async def iter_procedures(
    db: Db, filters: ProcedureFilters | None = None
) -> AsyncIterator[ProcedureSummary]:
    """Every matching procedure, page by page (for exports)."""
    number = 1
    while True:
        result = await list_procedures(db, filters, PageRequest(number, MAX_PAGE_SIZE))
        for item in result.items:
            yield item
        if not result.has_next:
            return
        number += 1


async def municipalities(db: Db) -> list[str]:
    """AGS keys that have at least one procedure, sorted (choices of the list filter)."""
    rows = await db.fetch("SELECT DISTINCT municipality FROM procedures ORDER BY municipality")
    return [r["municipality"] for r in rows]


def _visit(row: Mapping[str, Any]) -> PhaseVisit:
    return PhaseVisit(
        seq=row["seq"],
        phase_id=row["phase_id"],
        phase_type=row["phase_type"],
        round=row["round"],
        visit=row["visit"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        planned_end=row["planned_end"],
        extensions=row["extensions"],
        limited_to=row["limited_to"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        end_reason=row["end_reason"],
    )


async def _extensions(db: Db, procedure_id: str) -> tuple[DeadlineExtension, ...]:
    rows = await db.fetch(
        "SELECT occurred_at, payload FROM events WHERE procedure_id = $1 "
        "AND event_type = 'deadline.extended' ORDER BY seq",
        procedure_id,
    )
    out = []
    for row in rows:
        data = json.loads(row["payload"]).get("data", {})
        body = data.get("payload", {})
        out.append(
            DeadlineExtension(
                phase_id=data.get("phase_id"),
                round=data.get("round"),
                from_date=date.fromisoformat(body["from"]) if body.get("from") else None,
                to_date=date.fromisoformat(body["to"]),
                reason=str(body.get("reason", "")),
                at=row["occurred_at"],
            )
        )
    return tuple(out)


async def _statement_counts(db: Db, procedure_id: str) -> tuple[StatementCount, ...]:
    rows = await db.fetch(
        "SELECT round, statement_type, count(*) AS n, count(*) FILTER (WHERE late) AS late "
        "FROM statements WHERE procedure_id = $1 GROUP BY round, statement_type "
        "ORDER BY round, statement_type",
        procedure_id,
    )
    rounds: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        rounds.setdefault(row["round"], []).append(row)
    return tuple(
        StatementCount(
            round=number,
            total=sum(int(r["n"]) for r in group),
            late=sum(int(r["late"]) for r in group),
            by_type=tuple((r["statement_type"], int(r["n"])) for r in group),
        )
        for number, group in sorted(rounds.items())
    )


async def _decisions(db: Db, procedure_id: str, defn: Any) -> tuple[Decision, ...]:
    rows = await db.fetch(
        "SELECT decision_id, round, phase_id, body, outcome, title, text, decided_at "
        "FROM decisions WHERE procedure_id = $1 ORDER BY decided_at, decision_id",
        procedure_id,
    )
    return tuple(
        Decision(
            procedure_id=procedure_id,
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
        for r in rows
    )


async def get_procedure(
    db: Db, procedure_id: str, *, today: date | None = None
) -> ProcedureDetail | None:
    """Everything the procedure page shows; None if there is no such procedure."""
    row = await db.fetchrow(
        f"SELECT {_SUMMARY_COLUMNS}, p.parameters FROM procedures p "
        "LEFT JOIN public_procedure_status s USING (procedure_id) WHERE p.procedure_id = $1",
        procedure_id,
    )
    if row is None:
        return None
    summary = _summary(row)
    defn = catalogue.definition(summary.definition_id, summary.definition_version)
    raw = row["parameters"]
    params = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
    visit_rows = await db.fetch(
        "SELECT * FROM public_phase_periods WHERE procedure_id = $1 ORDER BY seq", procedure_id
    )
    visits = tuple(_visit(r) for r in visit_rows)
    ended = summary.state in ("completed", "cancelled")
    current = visits[-1] if visits and not ended else None
    documents: tuple[Document, ...] = ()
    if defn is not None:
        documents = tuple(
            Document(title=f"{ref.law} {ref.section}".strip(), url=ref.url, note=ref.note)
            for ref in defn.legal_basis
        )
    end_row = None
    if ended:
        end_row = await db.fetchrow(
            "SELECT occurred_at, payload FROM events WHERE procedure_id = $1 AND event_type "
            "IN ('procedure.completed', 'procedure.cancelled') ORDER BY seq DESC LIMIT 1",
            procedure_id,
        )
    end_reason = None
    if end_row is not None:
        body = json.loads(end_row["payload"]).get("data", {}).get("payload", {})
        end_reason = str(body.get("reason") or "") or None
    return ProcedureDetail(
        summary=summary,
        description=localized(defn.description) if defn and defn.description else None,
        phases=planned_phases(defn, params, visits, current) if defn is not None else (),
        visits=visits,
        current=current,
        extensions=await _extensions(db, procedure_id),
        statement_counts=await _statement_counts(db, procedure_id),
        decisions=await _decisions(db, procedure_id, defn),
        commitments=await commitments_of_procedure(
            db, procedure_id, today=today or today_in_berlin()
        ),
        review_reports=await review_reports_of_procedure(db, procedure_id),
        documents=documents,
        ended_at=end_row["occurred_at"] if end_row is not None else None,
        end_reason=end_reason,
    )


async def list_deadlines(
    db: Db,
    *,
    procedure_id: str | None = None,
    municipality: str | None = None,
    since: date | None = None,
) -> list[Deadline]:
    """Phase periods with an end date, by end date; of one procedure or one municipality.

    Every visit is included (also past ones, so a calendar keeps its history); `since` drops
    periods that ended before that day.
    """
    rows = await db.fetch(
        "SELECT v.*, p.title, p.municipality, p.definition_id, p.definition_version "
        "FROM public_phase_periods v JOIN procedures p USING (procedure_id) "
        "WHERE v.period_end IS NOT NULL "
        "AND ($1::text IS NULL OR v.procedure_id = $1) "
        "AND ($2::text IS NULL OR p.municipality = $2) "
        "AND ($3::date IS NULL OR v.period_end >= $3) "
        "ORDER BY v.period_end, v.procedure_id, v.seq",
        procedure_id,
        municipality,
        since,
    )
    out = []
    for r in rows:
        defn = catalogue.definition(r["definition_id"], r["definition_version"])
        title = None
        if defn is not None:
            title = next((localized(p.title) for p in defn.phases if p.id == r["phase_id"]), None)
        out.append(
            Deadline(
                procedure_id=r["procedure_id"],
                procedure_title=r["title"],
                municipality=r["municipality"],
                seq=r["seq"],
                phase_id=r["phase_id"],
                phase_type=r["phase_type"],
                phase_title=title,
                round=r["round"],
                visit=r["visit"],
                period_start=r["period_start"],
                period_end=r["period_end"],
                planned_end=r["planned_end"],
                extensions=r["extensions"],
                updated_at=r["updated_at"],
            )
        )
    return out


async def recent_items(
    db: Db, limit: int = 50, *, municipality: str | None = None
) -> list[RecentItem]:
    """The newest procedures and decisions together, newest first (at most `limit`), of all
    municipalities or of one (its Atom feed)."""
    if not 1 <= limit <= 1000:
        msg = f"limit: expected an integer from 1 to 1000, got {limit}"
        raise ValueError(msg)
    rows = await db.fetch(
        "(SELECT 'procedure' AS kind, p.procedure_id, p.procedure_id AS item_id, p.title, "
        "p.title AS procedure_title, p.municipality, p.started_at AS at, '' AS outcome, "
        "'' AS body, p.definition_id, p.definition_version "
        "FROM procedures p WHERE $2::text IS NULL OR p.municipality = $2 "
        "ORDER BY p.started_at DESC LIMIT $1) "
        "UNION ALL "
        "(SELECT 'decision', d.procedure_id, d.decision_id, d.title, p.title, p.municipality, "
        "d.decided_at, d.outcome, d.body, p.definition_id, p.definition_version "
        "FROM decisions d JOIN procedures p USING (procedure_id) "
        "WHERE $2::text IS NULL OR p.municipality = $2 "
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
                municipality=r["municipality"],
                published_at=r["at"],
                summary=summary,
                extra=extra,
            )
        )
    return out
