"""`civicflow web`: the public transparency site (procedure list, deadlines, commitments).

Read-only over the worker's database: every flag has a `CIVICFLOW_WEB_*` variable (the
database the worker's `CIVICFLOW_DATABASE_*`), a flag wins over the variable. Runs until
SIGINT/SIGTERM, then lets running requests finish and exits 0; a bad setting, an unreachable
database or a taken port exits non-zero with one line naming the problem.
"""

from __future__ import annotations

import asyncio

import typer

from worker.config import ConfigError
from worker.run import install_stop_handlers
from worker.telemetry import configure_logging

__all__ = ["web"]


def _fail(err: Exception, code: int) -> typer.Exit:
    typer.echo(f"civicflow web: {' '.join(str(err).split())}", err=True)
    return typer.Exit(code)


def web(
    host: str | None = typer.Option(None, help="address to listen on (CIVICFLOW_WEB_HOST)"),
    port: int | None = typer.Option(None, help="port, 0 for any free one (CIVICFLOW_WEB_PORT)"),
    base_url: str | None = typer.Option(
        None, help="public URL of the site, for feeds (CIVICFLOW_WEB_BASE_URL)"
    ),
    database_url: str | None = typer.Option(None, help="PostgreSQL URL (CIVICFLOW_DATABASE_URL)"),
    database_schema: str | None = typer.Option(
        None, help="PostgreSQL schema (CIVICFLOW_DATABASE_SCHEMA)"
    ),
    site_name: str | None = typer.Option(None, help="name in the header (CIVICFLOW_WEB_SITE_NAME)"),
    log_level: str | None = typer.Option(
        None, help="debug|info|warning|error (CIVICFLOW_WEB_LOG_LEVEL)"
    ),
) -> None:
    """Serve the public transparency site until SIGTERM/SIGINT (German, English with ?lang=en).

    The open-data licence shown in the footer, feeds and exports comes from
    CIVICFLOW_OPEN_DATA_LICENCE_ID / _NAME / _URL and CIVICFLOW_OPEN_DATA_PUBLISHER.
    """
    # Imported here: `civicflow --help` and the other commands need not load the web stack.
    from worker.web.server import WEB_STARTUP_ERRORS, serve
    from worker.web.settings import load_web_settings

    try:
        settings = load_web_settings(
            host=host,
            port=port,
            base_url=base_url,
            database_url=database_url,
            database_schema=database_schema,
            site_name=site_name,
            log_level=log_level,
        )
    except ConfigError as err:
        raise _fail(err, 2) from None
    configure_logging(settings.log_level, "auto")

    def announce(url: str) -> None:
        typer.echo(f"civicflow web: serving {url} (Ctrl-C stops)")

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        await serve(settings, stop, ready=announce)

    try:
        asyncio.run(main())
    except WEB_STARTUP_ERRORS as err:
        raise _fail(err, 1) from None
    except asyncio.CancelledError:
        raise typer.Exit(130) from None  # a second Ctrl-C: stopped without waiting
