"""The `civicflow` command. Each subcommand lives in its own module under `worker.commands`."""

from __future__ import annotations

import typer

from worker.commands import definitions as definitions_command
from worker.commands.audit import audit_app
from worker.commands.bench import bench
from worker.commands.dev import dev
from worker.commands.migrate import migrate
from worker.commands.outbox import outbox_app
from worker.commands.participants import participants_app
from worker.commands.procedure import procedure_app
from worker.commands.schema import schema_app
from worker.commands.selection import app as selection_app
from worker.commands.webhooks import webhooks_app
from worker.commands.worker import worker

__all__ = ["app", "main"]

app = typer.Typer(
    name="civicflow",
    help="Durable dialogue and decision procedures for municipalities, on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Durable dialogue and decision procedures for municipalities, on Temporal."""


app.add_typer(definitions_command.app, name="definitions")
app.add_typer(audit_app, name="audit")
app.add_typer(participants_app, name="participants")
app.add_typer(outbox_app, name="outbox")
app.add_typer(selection_app, name="selection")
app.add_typer(procedure_app, name="procedure")
app.add_typer(schema_app, name="schema")
app.add_typer(webhooks_app, name="webhooks")
app.command("bench")(bench)
app.command("dev")(dev)
app.command("migrate")(migrate)
app.command("worker")(worker)


def main() -> None:
    """Console-script entry point."""
    app()
