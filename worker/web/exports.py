"""Open data: procedures, decisions and commitments as JSON and CSV, under an open licence.

Why this shape: re-users (data portals such as GovData, journalists, researchers) load these
files into tools that expect one flat table with a fixed column order, UTF-8, and a licence
they can cite. So every dataset is one list of flat records whose fields are declared once
here (`DATASETS`, also documented in docs/open-data.md and checked by the JSON Schemas in
schemas/v1/open-data-*.json), in that order, in both formats; the licence (default:
Datenlizenz Deutschland – Namensnennung – Version 2.0) is a field of every document (JSON:
top-level `licence`; CSV: the last columns) and a `Link: rel="license"` header.

Responses stream: records are read from the read model page by page and written as they come,
so 10,000 procedures never sit in memory as one document. Nothing personal is exported: the
read-model types these rows are built from carry no participant data.

Shared request helpers of feeds and exports (query-parameter checks, 400/404 responses, the
pool) live here too, so both answer bad input the same way.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal
from urllib.parse import quote

import asyncpg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from worker.web import readmodel, readmodel_feeds
from worker.web.models import (
    CommitmentFilters,
    Localized,
    ProcedureFilters,
    ProcedureSummary,
    PublicCommitment,
)
from worker.web.readmodel_feeds import PublicDecision

__all__ = [
    "DATASETS",
    "BadParameterError",
    "Dataset",
    "Licence",
    "OpenDataSettings",
    "csv_chunks",
    "json_chunks",
    "licence_of",
    "routes",
]

AGS = re.compile(r"^\d{8}$")
SCHEMA_BASE = "urn:civicflow:schema:v1:open-data-"
_CHUNK_ROWS = 200


# ----------------------------------------------------------------------------- licence


class OpenDataSettings(BaseSettings):
    """The licence and publisher named in every export and feed (`CIVICFLOW_OPEN_DATA_*`)."""

    model_config = SettingsConfigDict(
        env_prefix="CIVICFLOW_OPEN_DATA_", extra="forbid", frozen=True
    )

    licence_id: str = Field(default="dl-de/by-2-0", min_length=1)
    licence_name: str = Field(
        default="Datenlizenz Deutschland – Namensnennung – Version 2.0", min_length=1
    )
    licence_url: str = Field(default="https://www.govdata.de/dl-de/by-2-0", pattern=r"^https?://")
    publisher: str = Field(
        default="civicflow", min_length=1, description="attribution: who provides the data"
    )


@dataclass(frozen=True)
class Licence:
    id: str
    name: str
    url: str
    publisher: str

    @classmethod
    def of(cls, settings: OpenDataSettings) -> Licence:
        return cls(
            id=settings.licence_id,
            name=settings.licence_name,
            url=settings.licence_url,
            publisher=settings.publisher,
        )

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "url": self.url, "attribution": self.publisher}


@functools.lru_cache(maxsize=1)
def _licence_from_environment() -> Licence:
    return Licence.of(OpenDataSettings())


def licence_of(request: Request) -> Licence:
    """The app's licence (`app.state.open_data`, an `OpenDataSettings`), else the env's."""
    settings = getattr(request.app.state, "open_data", None)
    if isinstance(settings, OpenDataSettings):
        return Licence.of(settings)
    return _licence_from_environment()


# ----------------------------------------------------------------------------- request helpers


class BadParameterError(ValueError):
    """A query or path parameter is wrong; the message names it and what was expected."""

    def __init__(self, name: str, expected: str) -> None:
        super().__init__(f"{name}: {expected}")
        self.name = name


def check_known(request: Request, allowed: Iterable[str]) -> None:
    """Refuse parameters this endpoint does not know (a typo should not pass silently)."""
    known = set(allowed)
    for name in request.query_params:
        if name not in known:
            expected = ", ".join(sorted(known)) or "none"
            raise BadParameterError(name, f"unknown query parameter; expected one of: {expected}")


def municipality_param(raw: str | None, name: str) -> str:
    if raw is None or not AGS.match(raw):
        raise BadParameterError(name, f"expected an AGS key of 8 digits, got {raw!r}")
    return raw


def bad_request(request: Request, err: BadParameterError) -> Response:
    return PlainTextResponse(f"400 Bad Request: {err}\n", status_code=400)


def not_found(request: Request, message: str) -> Response:
    return PlainTextResponse(f"404 Not Found: {message}\n", status_code=404)


def pool_of(request: Request) -> asyncpg.Pool:
    """The app's database pool (`app.state.pool`, set by `create_app`)."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


# ----------------------------------------------------------------------------- datasets

JsonType = Literal["string", "integer", "date", "date-time", "url"]


@dataclass(frozen=True)
class Column:
    name: str
    type: JsonType
    nullable: bool
    description: str


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    columns: tuple[Column, ...]
    rows: Callable[[Request, str], AsyncIterator[dict[str, Any]]]  # (request, lang) -> records
    params: frozenset[str]

    @property
    def schema_id(self) -> str:
        return f"{SCHEMA_BASE}{self.name}"


def _c(name: str, type_: JsonType, description: str, *, nullable: bool = False) -> Column:
    return Column(name, type_, nullable, description)


def _text(value: Localized | None, lang: str) -> str | None:
    return value.get(lang) if value is not None else None


def _site(request: Request) -> str:
    return str(request.base_url)


def _procedure_url(site: str, procedure_id: str) -> str:
    return f"{site}procedures/{quote(procedure_id, safe='')}"


def _optional_ags(request: Request) -> str | None:
    raw = request.query_params.get("municipality")
    return municipality_param(raw, "municipality") if raw is not None else None


def _procedure_filters(request: Request) -> ProcedureFilters:
    return ProcedureFilters(municipality=_optional_ags(request))


async def _procedure_rows(request: Request, lang: str) -> AsyncIterator[dict[str, Any]]:
    site = _site(request)
    s: ProcedureSummary
    async for s in readmodel.iter_procedures(pool_of(request), _procedure_filters(request)):
        yield {
            "procedure_id": s.procedure_id,
            "title": s.title,
            "municipality": s.municipality,
            "land": s.land,
            "kind": s.kind,
            "definition_id": s.definition_id,
            "definition_version": s.definition_version,
            "definition_title": _text(s.definition_title, lang),
            "started_at": s.started_at,
            "state": s.state,
            "phase_id": s.phase_id,
            "phase_type": s.phase_type,
            "phase_title": _text(s.phase_title, lang),
            "round": s.round,
            "period_start": s.period_start,
            "period_end": s.period_end,
            "url": _procedure_url(site, s.procedure_id),
        }


async def _decision_rows(request: Request, lang: str) -> AsyncIterator[dict[str, Any]]:
    site = _site(request)
    d: PublicDecision
    async for d in readmodel_feeds.iter_decisions(
        pool_of(request),
        municipality=_optional_ags(request),
        procedure_id=request.query_params.get("procedure_id"),
    ):
        yield {
            "procedure_id": d.procedure_id,
            "procedure_title": d.procedure_title,
            "municipality": d.municipality,
            "decision_id": d.decision_id,
            "round": d.round,
            "phase_id": d.phase_id,
            "body": d.body,
            "body_title": _text(d.body_title, lang),
            "outcome": d.outcome,
            "title": d.title,
            "text": d.text,
            "decided_at": d.decided_at,
            "url": f"{_procedure_url(site, d.procedure_id)}#decision-{d.decision_id}",
        }


async def _commitment_rows(request: Request, lang: str) -> AsyncIterator[dict[str, Any]]:
    site = _site(request)
    filters = CommitmentFilters(
        municipality=_optional_ags(request), procedure_id=request.query_params.get("procedure_id")
    )
    c: PublicCommitment
    async for c in readmodel.iter_commitments(
        pool_of(request), filters, today=readmodel.today_in_berlin()
    ):
        yield {
            "procedure_id": c.procedure_id,
            "procedure_title": c.procedure_title,
            "municipality": c.municipality,
            "commitment_id": c.commitment_id,
            "phase_id": c.phase_id,
            "owner_role": c.owner_role,
            "owner_role_title": _text(c.owner_role_title, lang),
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
            "url": f"{_procedure_url(site, c.procedure_id)}#commitment-{c.commitment_id}",
        }


_PROCEDURE_ID = _c("procedure_id", "string", "Stable id of the procedure (its workflow id).")
_MUNICIPALITY = _c("municipality", "string", "Amtlicher Gemeindeschlüssel (AGS), 8 digits.")
_PROCEDURE_TITLE = _c("procedure_title", "string", "Title of the procedure.")

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="procedures",
            description="Every procedure with its current (or last) phase and deadline.",
            columns=(
                _PROCEDURE_ID,
                _c("title", "string", "Title of the procedure."),
                _MUNICIPALITY,
                _c("land", "string", "Federal state, ISO 3166-2 code without 'DE-', e.g. BW."),
                _c("kind", "string", "Kind of procedure, e.g. bauleitplanung, buergerrat."),
                _c("definition_id", "string", "Procedure variant (catalogue definition id)."),
                _c("definition_version", "string", "Version of the definition it runs on."),
                _c("definition_title", "string", "Title of the variant.", nullable=True),
                _c("started_at", "date-time", "When the procedure started (UTC)."),
                _c("state", "string", "running, paused, completed or cancelled."),
                _c("phase_id", "string", "Current (or last) phase id.", nullable=True),
                _c(
                    "phase_type",
                    "string",
                    "invitation, hearing, deliberation, commitment or review.",
                    nullable=True,
                ),
                _c("phase_title", "string", "Title of that phase.", nullable=True),
                _c("round", "integer", "Round (Durchgang) of that phase, from 1.", nullable=True),
                _c("period_start", "date", "First day of the phase period.", nullable=True),
                _c(
                    "period_end",
                    "date",
                    "Last day of the period (the deadline, after extensions).",
                    nullable=True,
                ),
                _c("url", "url", "Page of the procedure on this site."),
            ),
            rows=_procedure_rows,
            params=frozenset({"lang", "municipality"}),
        ),
        Dataset(
            name="decisions",
            description="Decisions taken in procedures (council resolutions and others).",
            columns=(
                _PROCEDURE_ID,
                _PROCEDURE_TITLE,
                _MUNICIPALITY,
                _c("decision_id", "string", "Stable id of the decision."),
                _c("round", "integer", "Round of the phase it was taken in, from 1."),
                _c("phase_id", "string", "Phase it was taken in."),
                _c("body", "string", "Role id of the deciding body, e.g. council."),
                _c("body_title", "string", "Title of that role.", nullable=True),
                _c("outcome", "string", "e.g. adopted, rejected, draft_changed."),
                _c("title", "string", "Title of the decision."),
                _c("text", "string", "Text of the decision (may be empty)."),
                _c("decided_at", "date-time", "When it was decided (UTC)."),
                _c("url", "url", "Where it is shown on this site."),
            ),
            rows=_decision_rows,
            params=frozenset({"lang", "municipality", "procedure_id"}),
        ),
        Dataset(
            name="commitments",
            description="Self-commitments made in procedures and how far they are kept.",
            columns=(
                _PROCEDURE_ID,
                _PROCEDURE_TITLE,
                _MUNICIPALITY,
                _c("commitment_id", "string", "Stable id of the commitment."),
                _c("phase_id", "string", "Phase it was made in."),
                _c("owner_role", "string", "Role id of the owner (never a private person)."),
                _c("owner_role_title", "string", "Title of that role.", nullable=True),
                _c("owner_organisation", "string", "Organisation that made the commitment."),
                _c("title", "string", "What was committed."),
                _c("measurable_aim", "string", "How fulfilment is measured."),
                _c("due_date", "date", "Due date (a calendar date in Europe/Berlin)."),
                _c(
                    "status",
                    "string",
                    "As last reported: open, in_progress, done, overdue, dropped.",
                ),
                _c(
                    "public_status",
                    "string",
                    "on_track, overdue (reported so, or past due and open), done, dropped.",
                ),
                _c(
                    "progress_percent", "integer", "Newest reported progress, 0-100.", nullable=True
                ),
                _c("last_report_at", "date-time", "Time of the newest report.", nullable=True),
                _c("status_changed_at", "date-time", "When `status` last changed (UTC)."),
                _c("created_at", "date-time", "When the commitment was made (UTC)."),
                _c("url", "url", "Where it is shown on this site."),
            ),
            rows=_commitment_rows,
            params=frozenset({"lang", "municipality", "procedure_id"}),
        ),
    )
}
"""The datasets, each with its columns in the order both formats use."""


# ----------------------------------------------------------------------------- encoders


def _scalar(value: Any) -> Any:
    """JSON value of a field: ISO 8601 dates, UTC times with Z, everything else as is."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _ordered(dataset: Dataset, record: Mapping[str, Any]) -> dict[str, Any]:
    return {c.name: _scalar(record[c.name]) for c in dataset.columns}


async def json_chunks(
    dataset: Dataset, records: AsyncIterator[Mapping[str, Any]], licence: Licence, source: str
) -> AsyncIterator[bytes]:
    """A JSON document `{dataset, schema, licence, source, generated_at, items, count}`."""
    head = {
        "dataset": dataset.name,
        "schema": dataset.schema_id,
        "licence": licence.as_json(),
        "source": source,
        "generated_at": _scalar(datetime.now(UTC)),
    }
    yield (json.dumps(head, ensure_ascii=False)[:-1] + ', "items": [\n').encode()
    count = 0
    buffer: list[str] = []
    async for record in records:
        prefix = ",\n" if count else ""
        buffer.append(prefix + json.dumps(_ordered(dataset, record), ensure_ascii=False))
        count += 1
        if len(buffer) >= _CHUNK_ROWS:
            yield "".join(buffer).encode()
            buffer = []
    buffer.append(f'\n], "count": {count}}}\n')
    yield "".join(buffer).encode()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    return str(_scalar(value))


async def csv_chunks(
    dataset: Dataset, records: AsyncIterator[Mapping[str, Any]], licence: Licence
) -> AsyncIterator[bytes]:
    """CSV (RFC 4180, comma, UTF-8, header row); `licence_id`, `licence_url` end each row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.name for c in dataset.columns] + ["licence_id", "licence_url"])
    rows = 0
    async for record in records:
        writer.writerow(
            [_csv_value(record[c.name]) for c in dataset.columns] + [licence.id, licence.url]
        )
        rows += 1
        if rows % _CHUNK_ROWS == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


# ----------------------------------------------------------------------------- routes


def _export(dataset: Dataset, fmt: Literal["json", "csv"]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            check_known(request, dataset.params)
            lang = request.query_params.get("lang", "de")
            if lang not in ("de", "en"):
                raise BadParameterError("lang", f"expected de or en, got {lang!r}")
            _optional_ags(request)  # checked before the first byte is sent
        except BadParameterError as err:
            return bad_request(request, err)
        licence = licence_of(request)
        records = dataset.rows(request, lang)
        headers = {
            "Link": f'<{licence.url}>; rel="license"',
            "Content-Disposition": f'inline; filename="{dataset.name}.{fmt}"',
            "Cache-Control": "public, max-age=300",
        }
        if fmt == "json":
            body = json_chunks(dataset, records, licence, str(request.url))
            media = "application/json"
        else:
            body = csv_chunks(dataset, records, licence)
            media = "text/csv; charset=utf-8; header=present"
        return StreamingResponse(body, media_type=media, headers=headers)

    return endpoint


_FORMATS: tuple[Literal["json", "csv"], ...] = ("json", "csv")

routes: list[BaseRoute] = [
    Route(
        f"/open-data/{name}.{fmt}",
        _export(dataset, fmt),
        name=f"open_data_{name}_{fmt}",
    )
    for name, dataset in DATASETS.items()
    for fmt in _FORMATS
]
