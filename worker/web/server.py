"""Run the public site with uvicorn until a stop event: `serve(settings, stop)`.

Used by `civicflow web` and meant for the dev stack too (it owns the signal handling and
just sets `stop`). Start-up problems fail fast with one line: a database that cannot be
reached or lacks the read model (`civicflow migrate` not run), a port that is taken. The
socket is bound here, before uvicorn starts, so a taken port is a clear `PortInUseError`
instead of uvicorn's log line and `SystemExit`. Shutdown is graceful: stop accepting, let
running requests finish (up to `shutdown_grace_seconds`), close the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from activities.storage.pool import DatabaseUnavailableError, create_pool
from worker.asgi import bind, serve_app
from worker.prometheus import PortInUseError
from worker.web.app import create_app
from worker.web.settings import WebSettings

__all__ = ["WEB_STARTUP_ERRORS", "bind", "serve"]

WEB_STARTUP_ERRORS: tuple[type[Exception], ...] = (DatabaseUnavailableError, PortInUseError)


async def _check_read_model(pool: asyncpg.Pool, settings: WebSettings) -> None:
    found = await pool.fetchval("SELECT to_regclass('public_procedure_status') IS NOT NULL")
    if not found:
        msg = (
            f"database schema {settings.database_schema!r} has no public read model "
            "(migration 0005): run `civicflow migrate` first"
        )
        raise DatabaseUnavailableError(msg)


async def serve(
    settings: WebSettings,
    stop: asyncio.Event,
    *,
    pool: asyncpg.Pool | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the site until `stop` is set; `ready(url)` is called once it accepts requests.

    With `pool=None` a pool is opened from the settings and closed at the end; a given pool
    stays the caller's.
    """
    own_pool = pool is None
    if pool is None:
        pool = await create_pool(
            settings.database_url,
            schema=settings.database_schema,
            min_size=1,
            max_size=settings.database_pool_size,
            create_schema=False,
        )
    try:
        await _check_read_model(pool, settings)
        sock = bind(settings.host, settings.port)
        app = create_app(settings, pool=pool)
        await serve_app(
            app,
            sock,
            stop,
            lifespan="on",
            grace_seconds=settings.shutdown_grace_seconds,
            ready=ready,
        )
    finally:
        if own_pool:
            await pool.close()
