"""What every scenario runs against: one dev server, one PostgreSQL schema, two workers.

`bench_env()` starts a Temporal dev server of its own (free ports, our search attributes,
the pydantic data converter), creates and migrates a PostgreSQL schema of its own, starts a
civicflow worker in-process exactly as `civicflow worker` builds it (`worker.run`,
`worker.registry`) and a bare-Temporal worker (`bench.baseline`) on another task queue; on
exit it stops both, shuts the server down and drops the schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench.baseline import BARE_WORKFLOWS, BareActivities
from worker import binaries
from worker.config import Settings
from worker.run import WorkerServices, run_until_stopped, worker_services
from workflows import messages as m
from workflows.visibility import ALL_SEARCH_ATTRIBUTES

__all__ = [
    "DEFAULT_DATABASE_URL",
    "MUNICIPALITY",
    "REPO",
    "BenchEnv",
    "GcMonitor",
    "RssSampler",
    "bench_env",
    "bytecode_cache",
    "percentile",
    "procedure_input",
    "rss",
    "server_pid",
]

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MUNICIPALITY = "08221000"  # Heidelberg
REPO = Path(__file__).resolve().parents[1]


@dataclass
class BenchEnv:
    env: WorkflowEnvironment
    client: Client
    services: WorkerServices
    civic_queue: str
    bare_queue: str
    bare: BareActivities
    database_url: str
    schema: str
    address: str
    child_env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def pool(self) -> asyncpg.Pool:
        return self.services.pool


try:  # psutil when installed (it has no type stubs here), else /proc
    _psutil: Any = importlib.import_module("psutil")
except ImportError:  # pragma: no cover - depends on the environment
    _psutil = None


def rss(pid: int | None = None) -> int:
    """Resident set size in bytes of `pid` (default: this process)."""
    pid = pid or os.getpid()
    if _psutil is not None:
        return int(_psutil.Process(pid).memory_info().rss)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, name) of every descendant of `pid`, from /proc."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            ppid = int(text[text.rindex(")") + 2 :].split()[1])
            parents.setdefault(ppid, []).append((int(stat.parent.name), name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def server_pid() -> int | None:
    """The dev server: the `temporal` child process of this process."""
    for pid, name in _children(os.getpid()):
        if name.startswith("temporal"):
            return pid
    return None


PYCACHE = Path(tempfile.gettempdir()) / "civicflow-bench-pycache"


@contextlib.contextmanager
def bytecode_cache() -> Iterator[dict[str, str]]:
    """Let imports write bytecode (to a prefix outside the tree) while the bench runs.

    Temporal's sandbox re-imports the workflow module for every new workflow instance. With
    PYTHONDONTWRITEBYTECODE=1 (this machine's shell) and an editable install there is no
    .pyc, so each instance compiled `workflows/procedure.py` from source: about 5 % of all
    CPU samples in scenario 1. A deployed worker has bytecode (pip compiles at install), so
    the bench measures that. Yields the environment for child processes.
    """
    old = sys.dont_write_bytecode, sys.pycache_prefix
    sys.dont_write_bytecode = False
    sys.pycache_prefix = old[1] or str(PYCACHE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = sys.pycache_prefix
    try:
        yield env
    finally:
        sys.dont_write_bytecode, sys.pycache_prefix = old


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class GcMonitor:
    """Times Python's garbage collections while in `with` (the longest pause matters: an
    activation that does not yield within 2 s fails with Temporal's deadlock detector)."""

    def __init__(self) -> None:
        self.max_pause = 0.0
        self.total = 0.0
        self.collections = 0
        self.full = 0
        self._began: float | None = None

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        if self._began is None:
            return
        pause = time.perf_counter() - self._began
        self._began = None
        self.collections += 1
        self.full += info.get("generation") == 2
        self.total += pause
        self.max_pause = max(self.max_pause, pause)

    def __enter__(self) -> GcMonitor:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def result(self) -> dict[str, float]:
        return {
            "max_pause_s": self.max_pause,
            "total_s": self.total,
            "collections": self.collections,
            "full_collections": self.full,
        }


class RssSampler:
    """Samples the RSS of a process every `interval` s while in `async with`; keeps the peak."""

    def __init__(self, pid: int | None = None, interval: float = 0.25) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            self.peak = max(self.peak, rss(self.pid))
            await asyncio.sleep(self.interval)

    async def __aenter__(self) -> RssSampler:
        self.peak = rss(self.pid)
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.peak = max(self.peak, rss(self.pid))


def procedure_input(reference: str, *, hearing_now: bool) -> dict[str, Any]:
    """A `baugb-3-2` start request (§ 3(2) publication).

    `hearing_now`: announced 10 days ago, so the one-week announcement is over and the
    procedure goes straight into its one-month hearing; else it stays in its announcement.
    """
    data: dict[str, Any] = {
        "definition_id": "baugb-3-2",
        "reference": reference,
        "title": "Bebauungsplan Mühlweg-Süd",
        "municipality": MUNICIPALITY,
        "land": "BW",
    }
    if hearing_now:
        data["announcement_date"] = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    return data


def workflow_id(reference: str) -> str:
    return m.procedure_workflow_id(MUNICIPALITY, reference)


@contextlib.contextmanager
def _quiet_logs() -> Any:
    """The worker logs a warning per procedure whose audience is empty: keep the run readable."""
    old = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        yield
    finally:
        structlog.configure(**old)
        logging.getLogger().setLevel(level)


def _quiet_runtime() -> Runtime:
    """Core's own warnings (e.g. a workflow task the server dropped while refusing updates
    at 50 in flight) are expected under this load; errors still show."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


@contextlib.asynccontextmanager
async def bench_env(
    database_url: str, *, server_log_level: str = "never", time_skipping: bool = False
) -> AsyncIterator[BenchEnv]:
    """The environment of one benchmark run (see the module docstring).

    `time_skipping`: Temporal's time-skipping test server instead of the dev server, for
    scenarios that must move a clock (deadlines weeks ahead firing together); its client
    skips time while it waits for a workflow result and on `env.sleep`.
    """
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with _quiet_logs(), bytecode_cache() as child_env:
        env = await _start_server(server_log_level, time_skipping=time_skipping)
        try:
            address = env.client.service_client.config.target_host
            settings = Settings(
                temporal_address=address,
                database_url=database_url,
                database_schema=schema,
                metrics_port=0,
                task_queue=f"bench-civicflow-{uuid.uuid4().hex[:8]}",
                shutdown_grace_seconds=5,
            )
            try:
                async with worker_services(settings, migrate=True) as services:
                    bare = BareActivities()
                    bare_queue = f"bench-bare-{uuid.uuid4().hex[:8]}"
                    stop = asyncio.Event()
                    civic = asyncio.create_task(
                        run_until_stopped(services.worker, stop, services.background)
                    )
                    try:
                        async with Worker(
                            env.client,
                            task_queue=bare_queue,
                            workflows=list(BARE_WORKFLOWS),
                            activities=[bare.touch],
                        ):
                            yield BenchEnv(
                                env=env,
                                client=env.client,
                                services=services,
                                civic_queue=settings.task_queue,
                                bare_queue=bare_queue,
                                bare=bare,
                                database_url=database_url,
                                schema=schema,
                                address=address,
                                child_env=child_env,
                            )
                    finally:
                        stop.set()
                        await civic
            finally:
                await _drop_schema(database_url, schema)
        finally:
            await env.shutdown()


async def _start_server(log_level: str, *, time_skipping: bool) -> WorkflowEnvironment:
    if time_skipping:
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=str(binaries.temporal_test_server()),
            runtime=_quiet_runtime(),
        )
        try:
            # like a real cluster it refuses undeclared attributes (the dev server gets them
            # at start); the enum's values are the API's IndexedValueType numbers
            await env.client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=env.client.namespace,
                    search_attributes={
                        key.name: int(key.indexed_value_type)  # type: ignore[misc]
                        for key in ALL_SEARCH_ATTRIBUTES
                    },
                )
            )
        except BaseException:
            await env.shutdown()
            raise
        return env
    return await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(binaries.temporal_cli()),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        dev_server_log_level=log_level,
        ip="127.0.0.1",
        runtime=_quiet_runtime(),
    )


async def _drop_schema(url: str, schema: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def poll_until(
    check: Callable[[], Any], *, max_wait: float, interval: float = 0.1, what: str = "condition"
) -> float:
    """Await `check()` until it is truthy; return the monotonic time it first was."""
    deadline = time.monotonic() + max_wait
    while True:
        if await check():
            return time.monotonic()
        if time.monotonic() > deadline:
            msg = f"timed out after {max_wait:.0f} s waiting for {what}"
            raise TimeoutError(msg)
        await asyncio.sleep(interval)
