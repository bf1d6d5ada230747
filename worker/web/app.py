"""The public site's Starlette application: `create_app(settings, pool=...)`.

Routes: the HTML pages (`worker.web.pages`), then `worker.web.feeds.routes` and
`worker.web.exports.routes`. Handlers reach shared things through `request.app.state`:
`pool` (asyncpg pool on the civicflow schema), `settings` (`WebSettings`), `open_data`
(`exports.OpenDataSettings`, the licence), `templates` (Jinja environment).

When no pool is given the app opens one in its lifespan and closes it on shutdown; tests and
the dev stack pass their own pool and keep ownership of it. Every response carries security
headers (a strict Content-Security-Policy: the site has no scripts and no inline styles).
Errors are HTML pages in the visitor's language: 404 for unknown addresses and procedures,
400 naming the bad parameter, 500 (logged without request data) for anything unexpected.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activities.storage.pool import create_pool
from worker.web import exports, feeds, pages
from worker.web.rendering import environment, error_page
from worker.web.settings import WebSettings

__all__ = ["SECURITY_HEADERS", "create_app"]

log = structlog.get_logger("civicflow.web")

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class _SecurityHeaders:
    """Pure ASGI middleware (no buffering, so streamed exports stay streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [
                    (name.lower().encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                    if name.lower().encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class _PublicBaseUrl:
    """Make `request.base_url`/`url_for` use the configured public URL (behind a proxy)."""

    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.app = app
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.host = parts.netloc
        default = 443 if parts.scheme == "https" else 80
        self.server = (parts.hostname or "", parts.port or default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
            scope = {
                **scope,
                "scheme": self.scheme,
                "server": self.server,
                "headers": [(b"host", self.host.encode()), *headers],
            }
        await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (400, 404):
        return error_page(request, exc.status_code)
    return Response(exc.detail, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # The path may carry a procedure id (public); query strings may carry anything: not logged.
    log.error("page failed", path=request.url.path, error=type(exc).__name__)
    return error_page(request, 500)


def create_app(
    settings: WebSettings | None = None,
    *,
    pool: asyncpg.Pool | None = None,
    open_data: exports.OpenDataSettings | None = None,
) -> Starlette:
    """The site as an ASGI app; with `pool=None` it opens (and closes) its own pool."""
    settings = settings or WebSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if pool is not None:
            app.state.pool = pool
            yield
            return
        own = await create_pool(
            settings.database_url,
            schema=settings.database_schema,
            min_size=1,
            max_size=settings.database_pool_size,
            create_schema=False,
        )
        app.state.pool = own
        try:
            yield
        finally:
            await own.close()

    app = Starlette(
        routes=[*pages.routes, *feeds.routes, *exports.routes],
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.add_middleware(_SecurityHeaders)
    if settings.base_url is not None:
        app.add_middleware(_PublicBaseUrl, base_url=settings.base_url)
    templates = environment()
    app.state.settings = settings
    app.state.open_data = open_data or exports.OpenDataSettings()
    app.state.templates = templates
    app.state.stylesheet = templates.get_template("site.css.j2").render()
    if pool is not None:
        app.state.pool = pool  # usable without running the lifespan (ASGITransport)
    return app
