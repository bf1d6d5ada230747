"""`civicflow outbox`: incidents, requeue, and the webhook subscriptions the outbox serves.

Incidents are outbox rows that exhausted their delivery attempts (or failed permanently);
they wait here, never dropped, until an operator fixes the cause and requeues them.
Subscriptions name their secret by reference (`--secret-ref`); the secret itself is set in the
worker's environment (`CIVICFLOW_WEBHOOK_SECRET_<REF>`), never in the database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import asyncpg
import typer

from activities.storage.outbox import list_incidents, purge_finished, requeue
from activities.storage.pool import DatabaseUnavailableError, create_pool
from activities.storage.subscriptions import (
    Subscription,
    list_subscriptions,
    remove_subscription,
    save_subscription,
)
from worker.config import ConfigError, Settings, load_settings

__all__ = ["outbox_app"]

outbox_app = typer.Typer(
    name="outbox", help="Inspect and requeue undeliverable notifications.", no_args_is_help=True
)

_URL = typer.Option(None, "--database-url", help="PostgreSQL URL (CIVICFLOW_DATABASE_URL)")
_SCHEMA = typer.Option(None, "--database-schema", help="schema (CIVICFLOW_DATABASE_SCHEMA)")
_TYPES = typer.Option([], "--type", help="event type glob, repeatable; none given: every type")


def _settings(database_url: str | None, database_schema: str | None) -> Settings:
    try:
        return load_settings(database_url=database_url, database_schema=database_schema)
    except ConfigError as err:
        typer.echo(f"civicflow outbox: {err}", err=True)
        raise typer.Exit(2) from None


T = TypeVar("T")


def _run(settings: Settings, command: str, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run `work` with a one-connection pool; database problems exit 2 with one line."""

    async def go() -> T:
        pool = await create_pool(
            settings.database_url, schema=settings.database_schema, max_size=1, create_schema=False
        )
        try:
            return await work(pool)
        finally:
            await pool.close()

    try:
        return asyncio.run(go())
    except DatabaseUnavailableError as err:
        typer.echo(f"civicflow outbox {command}: {err}", err=True)
        raise typer.Exit(2) from None


@outbox_app.command("incidents")
def incidents(
    procedure_id: str | None = typer.Option(None, help="only this procedure"),
    limit: int = typer.Option(100, min=1, max=10_000),
    database_url: str | None = _URL,
    database_schema: str | None = _SCHEMA,
) -> None:
    """List undeliverable messages (exit 1 when there are any, for monitoring scripts)."""
    settings = _settings(database_url, database_schema)
    rows = _run(
        settings,
        "incidents",
        lambda pool: list_incidents(pool, procedure_id=procedure_id, limit=limit),
    )
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
    try:
        uuid.UUID(message_id)
    except ValueError:
        typer.echo(
            f"civicflow outbox requeue: {message_id!r} is not a message id (a uuid)", err=True
        )
        raise typer.Exit(1) from None
    settings = _settings(database_url, database_schema)
    done = _run(settings, "requeue", lambda pool: requeue(pool, message_id))
    if not done:
        typer.echo(f"civicflow outbox requeue: {message_id} is not an incident", err=True)
        raise typer.Exit(1)
    typer.echo(f"requeued {message_id}")


@outbox_app.command("subscribe")
def subscribe(
    subscription_id: str = typer.Argument(..., help="a short name, e.g. portal"),
    url: str = typer.Option(..., help="where events are POSTed (https)"),
    secret_ref: str = typer.Option(
        ..., help="the secret is read from CIVICFLOW_WEBHOOK_SECRET_<REF> on the worker"
    ),
    kind: str | None = typer.Option(None, help="only procedures of this definition id"),
    municipality: str | None = typer.Option(None, help="only this municipality (AGS)"),
    event_type: list[str] = _TYPES,
    database_url: str | None = _URL,
    database_schema: str | None = _SCHEMA,
) -> None:
    """Create or replace a webhook subscription."""
    settings = _settings(database_url, database_schema)
    sub = Subscription(subscription_id, url, secret_ref, kind, municipality, tuple(event_type))
    try:
        _run(settings, "subscribe", lambda pool: save_subscription(pool, sub))
    except ValueError as err:
        typer.echo(f"civicflow outbox subscribe: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"subscription {subscription_id} saved")


@outbox_app.command("unsubscribe")
def unsubscribe(
    subscription_id: str = typer.Argument(...),
    database_url: str | None = _URL,
    database_schema: str | None = _SCHEMA,
) -> None:
    """Deactivate a subscription; its undelivered messages are cancelled, not sent."""
    settings = _settings(database_url, database_schema)
    if not _run(settings, "unsubscribe", lambda pool: remove_subscription(pool, subscription_id)):
        typer.echo(f"civicflow outbox unsubscribe: no subscription {subscription_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"subscription {subscription_id} deactivated")


@outbox_app.command("subscriptions")
def subscriptions(
    database_url: str | None = _URL,
    database_schema: str | None = _SCHEMA,
) -> None:
    """List webhook subscriptions (secret references only, never secrets)."""
    settings = _settings(database_url, database_schema)
    for sub in _run(settings, "subscriptions", list_subscriptions):
        state = "active" if sub.active else "inactive"
        types = ",".join(sub.event_types) or "*"
        typer.echo(
            f"{sub.subscription_id}  {state}  {sub.url}  secret_ref={sub.secret_ref}  "
            f"kind={sub.procedure_kind or '*'}  municipality={sub.municipality or '*'}  "
            f"types={types}"
        )


@outbox_app.command("purge")
def purge(
    older_than_days: int = typer.Option(30, min=1, help="keep rows touched more recently"),
    database_url: str | None = _URL,
    database_schema: str | None = _SCHEMA,
) -> None:
    """Delete delivered and cancelled messages (never pending, failed or incidents)."""
    settings = _settings(database_url, database_schema)
    age = timedelta(days=older_than_days)
    removed = _run(settings, "purge", lambda pool: purge_finished(pool, age))
    typer.echo(
        f"purged {removed} delivered or cancelled messages older than {older_than_days} days"
    )
