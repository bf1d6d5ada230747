"""`civicflow audit verify PROCEDURE_ID`: recompute a procedure's hash chain and its records.

Exit status: 0 the chain and every record check out; 1 something is broken (the message names
the first broken row); 2 the check could not run (configuration, database, unknown procedure).
"""

from __future__ import annotations

import asyncio

import typer

from activities.storage.pool import DatabaseUnavailableError, create_pool
from activities.storage.verify import ProcedureReport, verify_procedure
from worker.config import ConfigError, load_settings

__all__ = ["audit_app", "run_verify"]

audit_app = typer.Typer(
    name="audit", help="Check the tamper-evident audit trail.", no_args_is_help=True
)


async def run_verify(database_url: str, schema: str, procedure_id: str) -> ProcedureReport:
    """Verify one procedure against the database at `database_url`."""
    pool = await create_pool(
        database_url, schema=schema, min_size=1, max_size=1, create_schema=False
    )
    try:
        return await verify_procedure(pool, procedure_id)
    finally:
        await pool.close()


@audit_app.command("verify")
def verify(
    procedure_id: str = typer.Argument(..., help="the procedure (workflow) id"),
    database_url: str | None = typer.Option(None, help="PostgreSQL URL (CIVICFLOW_DATABASE_URL)"),
    database_schema: str | None = typer.Option(None, help="schema (CIVICFLOW_DATABASE_SCHEMA)"),
) -> None:
    """Recompute the hash chain of PROCEDURE_ID and check every stored record against it."""
    try:
        settings = load_settings(database_url=database_url, database_schema=database_schema)
        report = asyncio.run(
            run_verify(settings.database_url, settings.database_schema, procedure_id)
        )
    except (ConfigError, DatabaseUnavailableError) as err:
        typer.echo(f"civicflow audit verify: {err}", err=True)
        raise typer.Exit(2) from None
    chain = report.chain
    if chain.ok and chain.events_checked == 0:
        typer.echo(
            f"civicflow audit verify: no audit events for procedure {procedure_id}", err=True
        )
        raise typer.Exit(2)
    if not chain.ok:
        assert chain.broken is not None
        typer.echo(
            f"BROKEN: procedure {procedure_id}: chain breaks at {chain.broken.describe()} "
            f"({chain.events_checked} events before it are intact)"
        )
        raise typer.Exit(1)
    if report.record_problems:
        typer.echo(
            f"BROKEN: procedure {procedure_id}: chain intact ({chain.events_checked} events), "
            f"but records do not match it:"
        )
        for problem in report.record_problems:
            typer.echo(f"  {problem}")
        raise typer.Exit(1)
    typer.echo(
        f"OK: procedure {procedure_id}: {chain.events_checked} events, "
        f"{report.records_checked} records verified; head {chain.last_hash}"
    )
