"""`civicflow worker`: the production worker process.

Every flag has a `CIVICFLOW_*` environment variable; a flag wins over the variable. Migrations
are applied only with `--migrate` (or by `civicflow migrate` beforehand): in production the
deployment decides when the schema changes, not whichever worker happens to start first.
"""

from __future__ import annotations

import asyncio

import typer

from worker.config import Settings, load_settings
from worker.run import STARTUP_ERRORS, install_stop_handlers, serve
from worker.telemetry import configure_logging

__all__ = ["run_worker_command", "worker"]


def _fail(command: str, err: Exception, code: int = 1) -> typer.Exit:
    """Print one line naming the problem; the caller raises the returned Exit."""
    line = " ".join(str(err).split())
    typer.echo(f"civicflow {command}: {line}", err=True)
    return typer.Exit(code)


def run_worker_command(settings: Settings, *, migrate: bool) -> None:
    """Run the worker until SIGINT/SIGTERM; exit 0 after a clean drain, 1 on failure."""
    configure_logging(settings.log_level, settings.log_format)

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        await serve(settings, stop, migrate=migrate)

    try:
        asyncio.run(main())
    except STARTUP_ERRORS as err:
        raise _fail("worker", err) from None
    except asyncio.CancelledError:
        # A second Ctrl-C: we stopped without waiting for running activities.
        raise typer.Exit(130) from None


def worker(
    temporal_address: str | None = typer.Option(
        None, help="Temporal frontend host:port (CIVICFLOW_TEMPORAL_ADDRESS)"
    ),
    temporal_namespace: str | None = typer.Option(
        None, "--namespace", help="Temporal namespace (CIVICFLOW_TEMPORAL_NAMESPACE)"
    ),
    task_queue: str | None = typer.Option(None, help="task queue (CIVICFLOW_TASK_QUEUE)"),
    temporal_tls_cert: str | None = typer.Option(
        None, "--tls-cert", help="client certificate, PEM (CIVICFLOW_TEMPORAL_TLS_CERT)"
    ),
    temporal_tls_key: str | None = typer.Option(
        None, "--tls-key", help="client private key, PEM (CIVICFLOW_TEMPORAL_TLS_KEY)"
    ),
    temporal_tls_ca: str | None = typer.Option(
        None, "--tls-ca", help="server CA bundle, PEM (CIVICFLOW_TEMPORAL_TLS_CA)"
    ),
    database_url: str | None = typer.Option(None, help="PostgreSQL URL (CIVICFLOW_DATABASE_URL)"),
    database_schema: str | None = typer.Option(
        None, help="PostgreSQL schema (CIVICFLOW_DATABASE_SCHEMA)"
    ),
    database_pool_size: int | None = typer.Option(
        None, help="connections in the pool (CIVICFLOW_DATABASE_POOL_SIZE)"
    ),
    metrics_host: str | None = typer.Option(
        None, help="address of /metrics (CIVICFLOW_METRICS_HOST)"
    ),
    metrics_port: int | None = typer.Option(
        None, help="port of /metrics, 0 disables it (CIVICFLOW_METRICS_PORT)"
    ),
    log_level: str | None = typer.Option(
        None, help="debug|info|warning|error (CIVICFLOW_LOG_LEVEL)"
    ),
    log_format: str | None = typer.Option(None, help="auto|json|console (CIVICFLOW_LOG_FORMAT)"),
    shutdown_grace_seconds: float | None = typer.Option(
        None, help="time running activities get after SIGTERM (CIVICFLOW_SHUTDOWN_GRACE_SECONDS)"
    ),
    max_concurrent_activities: int | None = typer.Option(
        None, help="activity slots (CIVICFLOW_MAX_CONCURRENT_ACTIVITIES)"
    ),
    phase_gauge_seconds: float | None = typer.Option(
        None,
        help="seconds between counts of procedures by phase, 0 disables "
        "(CIVICFLOW_PHASE_GAUGE_SECONDS)",
    ),
    build_id: str | None = typer.Option(
        None, help="Worker Versioning build id, e.g. the image tag (CIVICFLOW_BUILD_ID)"
    ),
    deployment_name: str | None = typer.Option(
        None, help="Worker Deployment of this build (CIVICFLOW_DEPLOYMENT_NAME)"
    ),
    versioning_behavior: str | None = typer.Option(
        None, help="auto_upgrade|pinned (CIVICFLOW_VERSIONING_BEHAVIOR)"
    ),
    migrate: bool = typer.Option(
        False, "--migrate", help="apply pending database migrations before polling"
    ),
) -> None:
    """Run a civicflow worker until SIGTERM/SIGINT, then drain running activities and exit 0.

    The Temporal API key is read from CIVICFLOW_TEMPORAL_API_KEY only (a flag would show it
    in the process list).
    """
    try:
        settings = load_settings(
            temporal_address=temporal_address,
            temporal_namespace=temporal_namespace,
            task_queue=task_queue,
            temporal_tls_cert=temporal_tls_cert,
            temporal_tls_key=temporal_tls_key,
            temporal_tls_ca=temporal_tls_ca,
            database_url=database_url,
            database_schema=database_schema,
            database_pool_size=database_pool_size,
            metrics_host=metrics_host,
            metrics_port=metrics_port,
            log_level=log_level,
            log_format=log_format,
            shutdown_grace_seconds=shutdown_grace_seconds,
            max_concurrent_activities=max_concurrent_activities,
            phase_gauge_seconds=phase_gauge_seconds,
            build_id=build_id,
            deployment_name=deployment_name,
            versioning_behavior=versioning_behavior,
        )
    except STARTUP_ERRORS as err:
        raise _fail("worker", err, code=2) from None
    run_worker_command(settings, migrate=migrate)
