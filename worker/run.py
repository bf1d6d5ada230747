"""The worker process: connect, check, poll, and on a stop request drain and exit cleanly.

`civicflow worker` and `civicflow dev` both run a worker through `worker_services` +
`run_until_stopped`, so the dev stack exercises exactly the production start-up path.

Start-up order is chosen to fail fast and cheaply: bind the metrics port, connect to Temporal,
open the database pool, check (or, with `migrate=True`, apply) migrations, then poll. Any
failure there raises one of `STARTUP_ERRORS` with a one-line message naming what is wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import Interceptor, Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.storage import pgcopy
from activities.storage.migrate import MigrationError, apply_migrations, available_migrations
from activities.storage.pool import DatabaseUnavailableError, create_pool, redact_url
from worker import registry
from worker.client import TemporalUnavailableError, connect
from worker.config import ConfigError, Settings
from worker.phase_gauge import run_phase_gauge
from worker.prometheus import MetricsEndpoint, PortInUseError, create_runtime, loopback_free_port
from worker.secret_files import SecretFileError
from worker.telemetry import Metrics, TelemetryInterceptor

__all__ = [
    "STARTUP_ERRORS",
    "StartupError",
    "WorkerServices",
    "build_worker",
    "deployment_config",
    "freeze_startup_heap",
    "install_stop_handlers",
    "run_until_stopped",
    "sandbox_runner",
    "serve",
    "worker_services",
]

log = structlog.get_logger("civicflow.worker")


class StartupError(RuntimeError):
    """The worker cannot start (or stopped on its own); the message says why, in one line."""


STARTUP_ERRORS: tuple[type[Exception], ...] = (
    ConfigError,
    DatabaseUnavailableError,
    MigrationError,
    PortInUseError,
    SecretFileError,
    StartupError,
    TemporalUnavailableError,
)


@dataclass(frozen=True)
class WorkerServices:
    """Everything a running worker holds; closed by `worker_services` on exit."""

    settings: Settings
    client: Client
    pool: asyncpg.Pool
    metrics: Metrics
    worker: Worker
    metrics_url: str | None
    background: Sequence[Callable[[asyncio.Event], Awaitable[object]]] = ()


PASSTHROUGH_PACKAGES = ("workflows", "activities", "definitions")
"""Our packages, imported once per process instead of once per workflow instance."""


def sandbox_runner(*, passthrough: bool = True) -> SandboxedWorkflowRunner:
    """Temporal's sandbox, with civicflow's own packages passed through.

    By default the sandbox executes a workflow's module afresh for every workflow instance it
    creates, so module-level state cannot leak between runs. For `workflows.procedure` that
    cost 5-8 ms of CPU per instance (17 % of the worker's CPU when procedures start, see
    bench/REPORT.md). Every other module the workflow code uses is already imported through
    `workflow.unsafe.imports_passed_through()`, and no module in these packages holds mutable
    state, so passing the workflow modules through as well gives up nothing the sandbox still
    protected. What still guards determinism is what guarded those modules before: the
    workflow lint rules (workflows/ruff.toml) and the replay tests of recorded histories.
    `passthrough=False` (CIVICFLOW_SANDBOX_PASSTHROUGH=false) restores the per-run copies.
    """
    if not passthrough:
        return SandboxedWorkflowRunner()
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_PACKAGES)
    return SandboxedWorkflowRunner(restrictions=restrictions)


_BEHAVIORS = {
    "auto_upgrade": VersioningBehavior.AUTO_UPGRADE,
    "pinned": VersioningBehavior.PINNED,
}


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """Worker Versioning for this worker, or None (unversioned) when no build id is set.

    With a build id the worker polls as version `deployment_name`/`build_id`; Temporal sends
    it work only once that version is current or ramping (`temporal worker deployment
    set-current-version`, deploy/RUNBOOK.md). Procedures get the configured default behaviour:
    auto-upgrade (move to the next current version, replaying under patches) or pinned.
    """
    if settings.build_id is None:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(
            deployment_name=settings.deployment_name, build_id=settings.build_id
        ),
        use_worker_versioning=True,
        default_versioning_behavior=_BEHAVIORS[settings.versioning_behavior],
    )


def build_worker(
    client: Client,
    settings: Settings,
    *,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    """A worker on the configured task queue that drains activities for the grace period."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(workflows),
        activities=list(activities),
        interceptors=list(interceptors),
        workflow_runner=sandbox_runner(passthrough=settings.sandbox_passthrough),
        deployment_config=deployment_config(settings),
        max_concurrent_activities=settings.max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_seconds),
    )


async def run_until_stopped(
    worker: Worker,
    stop: asyncio.Event,
    background: Sequence[Callable[[asyncio.Event], Awaitable[object]]] = (),
) -> None:
    """Poll until `stop` is set, then stop polling and let running activities finish.

    Activities still running when the grace period ends are cancelled by the SDK. If the
    worker ends on its own (a fatal error such as an unknown namespace), that is raised as a
    `StartupError`. `background` loops (the outbox pump) run beside the worker until the
    worker has stopped, and are awaited before returning.
    """
    running = asyncio.create_task(worker.run(), name="civicflow-worker")
    stopping = asyncio.create_task(stop.wait(), name="civicflow-stop")
    background_stop = asyncio.Event()
    loops = [asyncio.create_task(_as_coroutine(run(background_stop))) for run in background]
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        running.cancel()
        for task in loops:
            task.cancel()
        raise
    finally:
        stopping.cancel()
    try:
        await _drain_or_raise(worker, running)
    finally:
        background_stop.set()
        if loops:
            await asyncio.gather(*loops, return_exceptions=True)


async def _as_coroutine(awaitable: Awaitable[object]) -> object:
    return await awaitable


async def _drain_or_raise(worker: Worker, running: asyncio.Task[None]) -> None:
    """Raise if the worker ended on its own; else shut it down and wait for the drain."""
    if running.done():
        try:
            running.result()
        except Exception as err:
            reason = " ".join(str(err).split()) or type(err).__name__
            msg = f"worker stopped: {reason}"
            raise StartupError(msg) from err
        msg = "worker stopped without being asked to"
        raise StartupError(msg)
    log.info("shutdown requested; draining running activities", grace_seconds=_grace(worker))
    await worker.shutdown()
    await running
    log.info("worker stopped")


def _grace(worker: Worker) -> float:
    config = worker.config()
    grace = config.get("graceful_shutdown_timeout", timedelta())
    return grace.total_seconds()


async def _check_migrated(conn: asyncpg.Connection, settings: Settings) -> None:
    """Refuse to poll against a schema that lacks migrations: fail now, not per activity."""
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations")
    except asyncpg.UndefinedTableError:
        rows = []
    done = {row["version"] for row in rows}
    missing = [f"{m.version:04d}_{m.name}" for m in available_migrations() if m.version not in done]
    if missing:
        msg = (
            f"database schema {settings.database_schema!r} lacks migrations "
            f"{', '.join(missing)}: run `civicflow migrate` or start the worker with --migrate"
        )
        raise StartupError(msg)


def _own_loops(
    client: Client, metrics: Metrics, settings: Settings
) -> list[Callable[[asyncio.Event], Awaitable[object]]]:
    """Loops of the worker process itself (the activity classes add theirs to `deps`)."""
    loops: list[Callable[[asyncio.Event], Awaitable[object]]] = []
    if settings.phase_gauge_seconds > 0:
        loops.append(
            lambda stop: run_phase_gauge(
                client,
                metrics,
                stop,
                task_queue=settings.task_queue,
                interval=settings.phase_gauge_seconds,
            )
        )
    return loops


@contextlib.asynccontextmanager
async def worker_services(
    settings: Settings, *, migrate: bool = False
) -> AsyncIterator[WorkerServices]:
    """Start metrics, client, pool and worker (not yet polling); close them on exit."""
    metrics = Metrics()
    endpoint: MetricsEndpoint | None = None
    sdk_port: int | None = None
    if settings.metrics_port:
        sdk_port = loopback_free_port()
        endpoint = MetricsEndpoint(
            metrics.registry,
            settings.metrics_host,
            settings.metrics_port,
            sdk_url=f"http://127.0.0.1:{sdk_port}/metrics",
        )
    try:
        try:
            runtime = create_runtime(sdk_port)
        except Exception as err:  # Core reports a failed bind as a plain exception
            msg = f"cannot start the Temporal SDK metrics exporter on 127.0.0.1:{sdk_port}: {err}"
            raise StartupError(msg) from err
        if endpoint is not None:
            endpoint.start()
        client = await connect(settings, runtime=runtime)
        pool = await create_pool(
            settings.database_url,
            schema=settings.database_schema,
            max_size=settings.database_pool_size,
            create_schema=migrate,
        )
        try:
            async with pool.acquire() as conn:
                if migrate:
                    applied = await apply_migrations(conn)
                    log.info("migrations applied", applied=[m.version for m in applied])
                await _check_migrated(conn, settings)
            deps = registry.ActivityDeps(pool=pool, metrics=metrics, settings=settings)
            try:
                worker = build_worker(
                    client,
                    settings,
                    workflows=registry.WORKFLOWS,
                    activities=registry.build_activities(deps),
                    interceptors=[TelemetryInterceptor(metrics)],
                )
                metrics_url = None
                if endpoint is not None:
                    host = (
                        "127.0.0.1" if settings.metrics_host == "0.0.0.0" else settings.metrics_host
                    )
                    metrics_url = f"http://{host}:{endpoint.port}/metrics"
                background = [*deps.background, *_own_loops(client, metrics, settings)]
                yield WorkerServices(
                    settings, client, pool, metrics, worker, metrics_url, tuple(background)
                )
            finally:
                for close in reversed(deps.closers):
                    await close()
        finally:
            await pool.close()
    finally:
        if endpoint is not None:
            endpoint.stop()


async def serve(settings: Settings, stop: asyncio.Event, *, migrate: bool = False) -> None:
    """The whole `civicflow worker` process after configuration: start, poll, drain, close."""
    async with worker_services(settings, migrate=migrate) as services:
        frozen = freeze_startup_heap()
        log.info(
            "worker started",
            gc_frozen_objects=frozen,
            intake_encoder="compiled" if pgcopy.COMPILED else "python",
            temporal_address=settings.temporal_address,
            namespace=settings.temporal_namespace,
            task_queue=settings.task_queue,
            database=redact_url(settings.database_url),
            database_schema=settings.database_schema,
            metrics_url=services.metrics_url,
            build_id=settings.build_id,
            deployment_name=settings.deployment_name if settings.build_id else None,
        )
        await run_until_stopped(services.worker, stop, services.background)


def freeze_startup_heap() -> int:
    """Move everything alive after start-up (modules, definitions, clients) out of the garbage
    collector's reach; return how many objects that is.

    A full collection walks the whole heap while the worker's event loop and workflow
    activations wait; an activation held past Temporal's 2 s deadlock timeout fails its task.
    Start-up objects live as long as the process, so collecting them again is wasted time.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


_DUPLICATE_SIGNAL_SECONDS = 1.0


def install_stop_handlers(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set `stop` (graceful); a second signal cancels the main task (forced).

    A signal within a second of the first is taken as the same request: wrappers such as
    `timeout` or a supervisor may deliver one Ctrl-C to us twice (directly and via the group).
    """
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    first_at: list[float] = []

    def handle(signum: int) -> None:
        name = signal.Signals(signum).name
        if not stop.is_set():
            first_at.append(loop.time())
            log.info("stop signal received", signal=name)
            stop.set()
        elif first_at and loop.time() - first_at[0] < _DUPLICATE_SIGNAL_SECONDS:
            log.info("repeated stop signal ignored", signal=name)
        elif main is not None:
            log.warning("second stop signal: not waiting any longer", signal=name)
            main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, handle, signum)
