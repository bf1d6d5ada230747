"""The HTML pages: procedure list, procedure page, commitments tracker, review reports.

Each handler parses its query parameters first (a bad value is a 400 page naming it), then
asks the read model, then renders. Handlers never query tables themselves: what is public is
decided in `worker.web.readmodel`.
"""

from __future__ import annotations

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from worker.web import catalogue, params, readmodel
from worker.web.models import (
    PHASE_TYPES,
    PROCEDURE_STATES,
    PUBLIC_COMMITMENT_STATUSES,
    ProcedureDetail,
)
from worker.web.rendering import STATIC_CSS, error_page, page_for

__all__ = ["pool_of", "routes"]


def pool_of(request: Request) -> asyncpg.Pool:
    """The app's pool (`app.state.pool`), bound to the civicflow schema."""
    pool: asyncpg.Pool = request.app.state.pool
    return pool


async def procedures(request: Request) -> Response:
    try:
        page = page_for(request)
        filters = params.procedure_filters(request.query_params)
        paging = params.page_request(request.query_params)
    except params.BadParameterError as bad:
        return error_page(request, 400, bad=bad)
    pool = pool_of(request)
    result = await readmodel.list_procedures(pool, filters, paging)
    return page.render(
        "procedures.html.j2",
        section="procedures",
        result=result,
        filters=filters,
        municipalities=await readmodel.municipalities(pool),
        kinds=list(catalogue.kinds()),
        phase_types=PHASE_TYPES,
        states=PROCEDURE_STATES,
    )


async def procedure(request: Request) -> Response:
    try:
        page = page_for(request)
    except params.BadParameterError as bad:
        return error_page(request, 400, bad=bad)
    procedure_id = request.path_params["procedure_id"]
    detail = await readmodel.get_procedure(pool_of(request), procedure_id)
    if detail is None:
        return error_page(request, 404, page.t("unknown_procedure", id=procedure_id))
    return page.render(
        "procedure.html.j2",
        section="procedures",
        detail=detail,
        audience_title=lambda audience_id: _audience_title(detail, audience_id, page.lang),
    )


def _audience_title(detail: ProcedureDetail, audience_id: str, lang: str) -> str:
    defn = catalogue.definition(detail.summary.definition_id, detail.summary.definition_version)
    if defn is not None:
        for audience in defn.audiences:
            if audience.id == audience_id:
                return audience.title.en if lang == "en" else audience.title.de
    return audience_id


async def commitments(request: Request) -> Response:
    try:
        page = page_for(request)
        filters = params.commitment_filters(request.query_params)
        paging = params.page_request(request.query_params, default_size=25)
    except params.BadParameterError as bad:
        return error_page(request, 400, bad=bad)
    pool = pool_of(request)
    result = await readmodel.list_commitments(
        pool, filters, paging, today=readmodel.today_in_berlin()
    )
    return page.render(
        "commitments.html.j2",
        section="commitments",
        result=result,
        filters=filters,
        statuses=PUBLIC_COMMITMENT_STATUSES,
        municipalities=await readmodel.municipalities(pool),
    )


async def reviews(request: Request) -> Response:
    try:
        page = page_for(request)
        paging = params.page_request(request.query_params, default_size=10)
    except params.BadParameterError as bad:
        return error_page(request, 400, bad=bad)
    result = await readmodel.list_review_reports(pool_of(request), page=paging)
    return page.render("reviews.html.j2", section="reviews", result=result)


async def stylesheet(request: Request) -> Response:
    css: str = request.app.state.stylesheet
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


async def healthz(request: Request) -> Response:
    """200 when the database answers (and the read model exists), else 503."""
    try:
        await pool_of(request).fetchval("SELECT 1 FROM public_procedure_status LIMIT 1")
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        return JSONResponse({"status": "unavailable", "error": type(err).__name__}, 503)
    return JSONResponse({"status": "ok"})


routes: list[BaseRoute] = [
    Route("/", procedures, name="procedures"),
    Route("/procedures/{procedure_id}", procedure, name="procedure"),
    Route("/commitments", commitments, name="commitments"),
    Route("/reviews", reviews, name="reviews"),
    Route(STATIC_CSS, stylesheet, name="stylesheet"),
    Route("/healthz", healthz, name="healthz"),
]
