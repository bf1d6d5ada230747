"""`civicflow migrate`: apply the versioned SQL migrations."""

from __future__ import annotations

import asyncio

import typer

from activities.storage.migrate import MigrationError, apply_migrations
from activities.storage.pool import DatabaseUnavailableError, create_pool
from worker.config import ConfigError, load_settings

__all__ = ["migrate", "run_migrations"]


async def run_migrations(database_url: str, schema: str) -> list[str]:
    """Apply pending migrations; return the names of those applied now."""
    pool = await create_pool(database_url, schema=schema, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            applied = await apply_migrations(conn)
    finally:
        await pool.close()
    return [f"{m.version:04d}_{m.name}" for m in applied]


def migrate(
    database_url: str | None = typer.Option(None, help="PostgreSQL URL (CIVICFLOW_DATABASE_URL)"),
    database_schema: str | None = typer.Option(None, help="schema (CIVICFLOW_DATABASE_SCHEMA)"),
) -> None:
    """Apply pending database migrations (safe to run from several workers at once)."""
    try:
        settings = load_settings(database_url=database_url, database_schema=database_schema)
        applied = asyncio.run(run_migrations(settings.database_url, settings.database_schema))
    except (ConfigError, DatabaseUnavailableError, MigrationError) as err:
        typer.echo(f"civicflow migrate: {err}", err=True)
        raise typer.Exit(1) from None
    if applied:
        typer.echo("applied: " + ", ".join(applied))
    else:
        typer.echo("database is up to date")
