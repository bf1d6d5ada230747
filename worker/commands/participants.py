"""`civicflow participants erase PARTICIPANT_ID`: erase a participant's personal data.

The audit chain keeps only the opaque id and a salted pseudonym whose salt is erased too, so
it stays verifiable. Exit status: 0 erased (or erased before), 1 unknown participant,
2 configuration or database problem.
"""

from __future__ import annotations

import asyncio

import typer

from activities.storage.erasure import ErasureResult, UnknownParticipantError, erase_participant
from activities.storage.pool import DatabaseUnavailableError, create_pool
from worker.config import ConfigError, load_settings

__all__ = ["participants_app", "run_erase"]

participants_app = typer.Typer(
    name="participants", help="Manage participants' personal data.", no_args_is_help=True
)


async def run_erase(database_url: str, schema: str, participant_id: str) -> ErasureResult:
    pool = await create_pool(
        database_url, schema=schema, min_size=1, max_size=1, create_schema=False
    )
    try:
        return await erase_participant(pool, participant_id)
    finally:
        await pool.close()


@participants_app.command("erase")
def erase(
    participant_id: str = typer.Argument(..., help="the opaque participant id"),
    database_url: str | None = typer.Option(None, help="PostgreSQL URL (CIVICFLOW_DATABASE_URL)"),
    database_schema: str | None = typer.Option(None, help="schema (CIVICFLOW_DATABASE_SCHEMA)"),
) -> None:
    """Erase PARTICIPANT_ID's personal data (name, e-mail, address) for good."""
    try:
        settings = load_settings(database_url=database_url, database_schema=database_schema)
        result = asyncio.run(
            run_erase(settings.database_url, settings.database_schema, participant_id)
        )
    except UnknownParticipantError as err:
        typer.echo(f"civicflow participants erase: {err}", err=True)
        raise typer.Exit(1) from None
    except (ConfigError, DatabaseUnavailableError) as err:
        typer.echo(f"civicflow participants erase: {err}", err=True)
        raise typer.Exit(2) from None
    if not result.erased_now:
        typer.echo(f"participant {participant_id} was already erased; nothing to do")
        return
    typer.echo(
        f"erased personal data of participant {participant_id} (procedure "
        f"{result.procedure_id}); {result.mails_cancelled} pending mails cancelled"
    )
