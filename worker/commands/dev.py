"""`civicflow dev` (what `make dev` runs): the whole stack on one machine, one command."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer

from worker.config import load_settings
from worker.devstack.postgres import EmbeddedPostgresError
from worker.devstack.stack import DevOptions, run_dev
from worker.devstack.temporal_server import DevServerError
from worker.run import STARTUP_ERRORS, install_stop_handlers
from worker.telemetry import configure_logging
from worker.web.server import WEB_STARTUP_ERRORS

__all__ = ["dev"]

_DEV_ERRORS: tuple[type[Exception], ...] = (
    *STARTUP_ERRORS,
    *WEB_STARTUP_ERRORS,
    DevServerError,
    EmbeddedPostgresError,
)


def dev(
    state_dir: Path = typer.Option(  # noqa: B008  (typer's documented option style)
        Path(".civicflow"), help="where Temporal's database and embedded PostgreSQL live"
    ),
    grpc_port: int = typer.Option(7233, help="Temporal gRPC port"),
    ui_port: int = typer.Option(8233, help="Temporal Web UI port"),
    http_port: int = typer.Option(7243, help="Temporal HTTP API port"),
    metrics_port: int = typer.Option(9464, help="Prometheus /metrics port"),
    mail_port: int = typer.Option(1025, help="SMTP port of the mail sink (mails kept as .eml)"),
    web_port: int = typer.Option(8080, help="port of the public transparency site"),
    codec_port: int = typer.Option(
        8081, help="port of the codec server (started only when payload keys are set)"
    ),
) -> None:
    """Start Temporal, PostgreSQL, migrations, a worker and a demo workflow; Ctrl-C stops all.

    Uses CIVICFLOW_DATABASE_URL (and CIVICFLOW_DATABASE_SCHEMA) when set, else an embedded
    PostgreSQL under the state directory. The worker's mail goes to a local sink that keeps
    each mail as a .eml file under <state-dir>/mail/ (unless CIVICFLOW_SMTP_HOST is set).
    With CIVICFLOW_PAYLOAD_KEYS (or CIVICFLOW_PAYLOAD_KEYS_FILE) set, payloads are encrypted
    and a codec server lets the Web UI show them in clear. State survives restarts.
    """
    options = DevOptions(
        state_dir=state_dir,
        grpc_port=grpc_port,
        ui_port=ui_port,
        http_port=http_port,
        metrics_port=metrics_port,
        mail_port=mail_port,
        web_port=web_port,
        codec_port=codec_port,
        database_url=os.environ.get("CIVICFLOW_DATABASE_URL") or None,
    )
    try:
        logging_settings = load_settings()
    except STARTUP_ERRORS as err:
        typer.echo(f"civicflow dev: {' '.join(str(err).split())}", err=True)
        raise typer.Exit(2) from None
    configure_logging(logging_settings.log_level, logging_settings.log_format)

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        await run_dev(options, stop, out=lambda text: print(text, flush=True))

    try:
        asyncio.run(main())
    except _DEV_ERRORS as err:
        typer.echo(f"civicflow dev: {' '.join(str(err).split())}", err=True)
        raise typer.Exit(1) from None
    except asyncio.CancelledError:
        raise typer.Exit(130) from None
