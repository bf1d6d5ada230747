"""`civicflow outbox incidents` and `civicflow outbox requeue MESSAGE_ID`.

Incidents are outbox rows that exhausted their delivery attempts (or failed permanently);
they wait here, never dropped, until an operator fixes the cause and requeues them.
"""

from __future__ import annotations

import asyncio

import typer

from activities.storage.outbox import OutboxRow, list_incidents, requeue
from activities.storage.pool import DatabaseUnavailableError, create_pool
from worker.config import ConfigError, Settings, load_settings

__all__ = ["outbox_app"]

outbox_app = typer.Typer(
    name="outbox", help="Inspect and requeue undeliverable notifications.", no_args_is_help=True
)

_URL = typer.Option(None, "--database-url", help="PostgreSQL URL (CIVICFLOW_DATABASE_URL)")
_SCHEMA = typer.Option(None, "--database-schema", help="schema (CIVICFLOW_DATABASE_SCHEMA)")


def _settings(database_url: str | None, database_schema: str | None) -> Settings:
    try:
        return load_settings(database_url=database_url, database_schema=database_schema)
    except ConfigError as err:
        typer.echo(f"civicflow outbox: {err}", err=True)
        raise typer.Exit(2) from None


async def _incidents(settings: Settings, procedure_id: str | None, limit: int) -> list[OutboxRow]:
    pool = await create_pool(
        settings.database_url, schema=settings.database_schema, max_size=1, create_schema=False
    )
    try:
        return await list_incidents(pool, procedure_id=procedure_id, limit=limit)
    finally:
        await pool.close()


async def _requeue(settings: Settings, message_id: str) -> bool:
    pool = await create_pool(
        settings.database_url, schema=settings.database_schema, max_size=1, create_schema=False
    )
    try:
        return await requeue(pool, message_id)
    finally:
        await pool.close()


@outbox_app.command("incidents")
def incidents(
    procedure_id: str | None = typer.Option(None, help="only this procedure"),
    limit: int = typer.Option(100, min=1, max=10_000),
    database_url: str | None = _URL,
    database_schema: str | None = _SCHEMA,
) -> None:
    """List undeliverable messages (exit 1 when there are any, for monitoring scripts)."""
    settings = _settings(database_url, database_schema)
    try:
        rows = asyncio.run(_incidents(settings, procedure_id, limit))
    except DatabaseUnavailableError as err:
        typer.echo(f"civicflow outbox incidents: {err}", err=True)
        raise typer.Exit(2) from None
    if not rows:
        typer.echo("no incidents")
        return
    for row in rows:
        typer.echo(
            f"{row.message_id}  {row.channel:<7}  procedure {row.procedure_id}  "
            f"recipient {row.recipient}  attempts {row.attempts}  error: {row.last_error}"
        )
    raise typer.Exit(1)


@outbox_app.command("requeue")
def requeue_command(
    message_id: str = typer.Argument(..., help="an incident's message id"),
    database_url: str | None = _URL,
    database_schema: str | None = _SCHEMA,
) -> None:
    """Give an incident a fresh set of delivery attempts (after fixing its cause)."""
    settings = _settings(database_url, database_schema)
    try:
        done = asyncio.run(_requeue(settings, message_id))
    except DatabaseUnavailableError as err:
        typer.echo(f"civicflow outbox requeue: {err}", err=True)
        raise typer.Exit(2) from None
    if not done:
        typer.echo(f"civicflow outbox requeue: {message_id} is not an incident", err=True)
        raise typer.Exit(1)
    typer.echo(f"requeued {message_id}")
