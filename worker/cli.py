"""The `civicflow` command. Each subcommand lives in its own module under `worker.commands`."""

from __future__ import annotations

import logging
import os
import sys

import typer

from worker.commands import definitions as definitions_command
from worker.commands.audit import audit_app
from worker.commands.bench import bench
from worker.commands.codec import codec_server
from worker.commands.dev import dev
from worker.commands.migrate import migrate
from worker.commands.outbox import outbox_app
from worker.commands.participants import participants_app
from worker.commands.procedure import procedure_app
from worker.commands.schema import schema_app
from worker.commands.selection import app as selection_app
from worker.commands.web import web
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
app.command("codec-server")(codec_server)
app.command("dev")(dev)
app.command("migrate")(migrate)
app.command("web")(web)
app.command("worker")(worker)


def main() -> None:
    """Console-script entry point.

    Exits with `os._exit` after flushing: once a Temporal core runtime exists, its threads can
    make CPython abort during interpreter finalisation ("PyGILState_Release", exit 134) even
    though the command finished, which would turn a clean exit code into a crash.
    """
    code: int = 0
    try:
        app()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        if isinstance(exit_.code, str):
            print(exit_.code, file=sys.stderr)
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
