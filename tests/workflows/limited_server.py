"""A real stack whose Temporal dev server has some limits lowered, for tests of what happens
at those limits: a dev server started with `--dynamic-config-value` settings, a worker built
exactly as `civicflow worker` builds it, and a migrated PostgreSQL schema of its own.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import asyncpg
from prometheus_client import CollectorRegistry
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.storage.pool import create_pool
from tests.helpers import free_port, migrated_schema
from worker import registry
from worker.binaries import temporal_cli
from worker.config import load_settings
from worker.run import build_worker
from worker.telemetry import Metrics
from workflows.visibility import ALL_SEARCH_ATTRIBUTES

__all__ = ["Stack", "limited_stack"]


@dataclass(frozen=True)
class Stack:
    client: Client
    address: str  # gRPC host:port, for clients of other configurations
    task_queue: str
    pool: asyncpg.Pool
    metrics_url: str  # the dev server's own Prometheus metrics


@contextlib.asynccontextmanager
async def limited_stack(
    database_url: str, dynamic_config: Mapping[str, int], prefix: str
) -> AsyncIterator[Stack]:
    """Dev server with `dynamic_config` (e.g. `{"history.maxInFlightUpdates": 2}`), a real
    worker on a queue of its own and schema `<prefix>_...`; all stopped and dropped after."""
    args = [a for k, v in dynamic_config.items() for a in ("--dynamic-config-value", f"{k}={v}")]
    metrics_port = free_port()
    args += ["--metrics-port", str(metrics_port)]
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_cli()),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
        dev_server_extra_args=args,
    )
    try:
        async with migrated_schema(database_url, prefix) as schema:
            settings = load_settings(
                task_queue=f"{prefix}-{uuid.uuid4().hex[:8]}",
                temporal_address=env.client.service_client.config.target_host,
                database_url=database_url,
                database_schema=schema,
                metrics_port=0,
            )
            pool = await create_pool(database_url, schema=schema, max_size=5)
            deps = registry.ActivityDeps(
                pool=pool, metrics=Metrics(CollectorRegistry()), settings=settings
            )
            try:
                worker = build_worker(
                    env.client,
                    settings,
                    workflows=registry.WORKFLOWS,
                    activities=registry.build_activities(deps),
                )
                async with worker:
                    yield Stack(
                        client=env.client,
                        address=settings.temporal_address,
                        task_queue=settings.task_queue,
                        pool=pool,
                        metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
                    )
            finally:
                for close in deps.closers:
                    await close()
                await pool.close()
    finally:
        await env.shutdown()
