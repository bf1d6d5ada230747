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

import asyncpg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from worker.web import readmodel
from worker.web.models import PHASE_TYPES, PROCEDURE_STATES, PUBLIC_COMMITMENT_STATUSES
from worker.web.readmodel import Db
from worker.web.readmodel_feeds import (
    ExportQuery,
    commitment_records,
    decision_records,
    procedure_records,
)

__all__ = [
    "DATASETS",
    "BadParameterError",
    "Dataset",
    "Licence",
    "OpenDataSettings",
    "csv_chunks",
    "json_chunks",
    "licence_of",
    "open_data_schemas",
    "routes",
]

AGS = re.compile(r"^\d{8}$")
PROCEDURE_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
SCHEMA_BASE = "urn:civicflow:schema:v1:open-data-"
_CHUNK_ROWS = 200
CSV_LICENCE_COLUMNS = ("licence_id", "licence_url")
COMMITMENT_STATUSES = ("open", "in_progress", "done", "overdue", "dropped")
SCHEMA_DIR = "schemas/open-data"
"""Where the JSON Schemas of the JSON exports are committed (see `open_data_schemas`)."""


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
    def of(cls, s: OpenDataSettings) -> Licence:
        return cls(s.licence_id, s.licence_name, s.licence_url, s.publisher)

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


def query_value(request: Request, name: str) -> str | None:
    """A query parameter, stripped; empty counts as absent (a GET form sends empty fields)."""
    value = request.query_params.get(name, "").strip()
    return value or None


def municipality_param(raw: str | None, name: str) -> str:
    if raw is None or not AGS.match(raw):
        raise BadParameterError(name, f"expected an AGS key of 8 digits, got {raw!r}")
    return raw


def _procedure_id(raw: str | None) -> str | None:
    if raw is not None and not PROCEDURE_ID.match(raw):
        raise BadParameterError(
            "procedure_id", f"expected a procedure id (1-200 printable characters), got {raw!r}"
        )
    return raw


def bad_request(request: Request, err: BadParameterError) -> Response:
    return PlainTextResponse(f"400 Bad Request: {err}\n", status_code=400)


def not_found(request: Request, message: str) -> Response:
    return PlainTextResponse(f"404 Not Found: {message}\n", status_code=404)


def site_url(request: Request) -> str:
    """Absolute base URL for links, ending with "/" (the app rewrites it to
    `WebSettings.base_url` when one is configured, e.g. behind a proxy)."""
    return str(request.base_url)


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
    enum: tuple[str, ...] = ()
    pattern: str | None = None

    def json_schema(self) -> dict[str, Any]:
        """This column's JSON Schema (the JSON export's value; CSV holds its text)."""
        body: dict[str, Any] = {"type": "integer" if self.type == "integer" else "string"}
        if self.type in ("date", "date-time"):
            body["format"] = self.type
        elif self.type == "url":
            body["format"] = "uri"
        if self.enum:
            body["enum"] = list(self.enum)
        if self.pattern:
            body["pattern"] = self.pattern
        if self.type == "integer":
            body["minimum"] = 0
        if self.nullable:
            body = {"anyOf": [body, {"type": "null"}]}
        return {"description": self.description, **body}


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    columns: tuple[Column, ...]
    rows: Callable[[Db, ExportQuery], AsyncIterator[dict[str, Any]]]
    params: frozenset[str]

    @property
    def schema_id(self) -> str:
        return f"{SCHEMA_BASE}{self.name}"


def _c(
    name: str,
    type_: JsonType,
    description: str,
    *,
    nullable: bool = False,
    enum: tuple[str, ...] = (),
    pattern: str | None = None,
) -> Column:
    return Column(name, type_, nullable, description, enum, pattern)


def _query(request: Request, lang: str) -> ExportQuery:
    raw = query_value(request, "municipality")
    return ExportQuery(
        site_url=site_url(request),
        lang=lang,
        municipality=municipality_param(raw, "municipality") if raw is not None else None,
        procedure_id=_procedure_id(query_value(request, "procedure_id")),
        today=readmodel.today_in_berlin(),
    )


_PROCEDURE_ID = _c("procedure_id", "string", "Stable id of the procedure (its workflow id).")
_MUNICIPALITY = _c(
    "municipality", "string", "Amtlicher Gemeindeschlüssel (AGS), 8 digits.", pattern=AGS.pattern
)
_PROCEDURE_TITLE = _c("procedure_title", "string", "Title of the procedure.")

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            name="procedures",
            description="Every procedure with its current (or last) phase and deadline, by id.",
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
                _c("state", "string", "State of the procedure.", enum=PROCEDURE_STATES),
                _c("phase_id", "string", "Current (or last) phase id.", nullable=True),
                _c("phase_type", "string", "Type of that phase.", nullable=True, enum=PHASE_TYPES),
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
            rows=procedure_records,
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
            rows=decision_records,
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
                _c("status", "string", "Status as last reported.", enum=COMMITMENT_STATUSES),
                _c(
                    "public_status",
                    "string",
                    "overdue: reported so, or past its due date and not done.",
                    enum=PUBLIC_COMMITMENT_STATUSES,
                ),
                _c("progress_percent", "integer", "Newest reported progress in %.", nullable=True),
                _c("last_report_at", "date-time", "Time of the newest report.", nullable=True),
                _c("status_changed_at", "date-time", "When `status` last changed (UTC)."),
                _c("created_at", "date-time", "When the commitment was made (UTC)."),
                _c("url", "url", "Where it is shown on this site."),
            ),
            rows=commitment_records,
            params=frozenset({"lang", "municipality", "procedure_id"}),
        ),
    )
}
"""The datasets, each with its columns in the order both formats use."""


def open_data_schema(dataset: Dataset) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the JSON export of `dataset`; its `x-csv-columns` is the
    CSV header. Generated from `DATASETS`, committed under `SCHEMA_DIR`; a test keeps both equal."""
    record = {
        "type": "object",
        "additionalProperties": False,
        "required": [c.name for c in dataset.columns],
        "properties": {c.name: c.json_schema() for c in dataset.columns},
    }
    licence = {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name", "url", "attribution"],
        "properties": {
            "id": {"type": "string", "description": "Licence id, e.g. dl-de/by-2-0."},
            "name": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
            "attribution": {"type": "string", "description": "Name to credit (publisher)."},
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": dataset.schema_id,
        "x-civicflow-version": "1.0.0",
        "title": f"civicflow open data: {dataset.name}",
        "description": dataset.description,
        "type": "object",
        "additionalProperties": False,
        "required": ["dataset", "schema", "licence", "source", "generated_at", "items", "count"],
        "properties": {
            "dataset": {"const": dataset.name},
            "schema": {"const": dataset.schema_id},
            "licence": {"$ref": "#/$defs/Licence"},
            "source": {"type": "string", "format": "uri"},
            "generated_at": {"type": "string", "format": "date-time"},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Record"}},
            "count": {"type": "integer", "minimum": 0},
        },
        "$defs": {"Licence": licence, "Record": record},
        "x-csv-columns": [c.name for c in dataset.columns] + list(CSV_LICENCE_COLUMNS),
    }


def open_data_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every dataset."""
    return {f"open-data-{name}.schema.json": open_data_schema(d) for name, d in DATASETS.items()}


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
    writer.writerow([c.name for c in dataset.columns] + list(CSV_LICENCE_COLUMNS))
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
            lang = query_value(request, "lang") or "de"
            if lang not in ("de", "en"):
                raise BadParameterError("lang", f"expected de or en, got {lang!r}")
            query = _query(request, lang)  # checked before the first byte is sent
        except BadParameterError as err:
            return bad_request(request, err)
        licence = licence_of(request)
        records = dataset.rows(pool_of(request), query)
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
