"""One real Temporal dev server (gRPC + HTTP API) and one real worker for the interface tests.

The dev server listens on a pinned free HTTP port so the HTTP API tests can reach it; the
worker is built from `worker.registry` exactly as `civicflow worker` builds it, against a
migrated PostgreSQL schema of its own, on its own task queue. Both live for the session: the
tests only start procedures and talk to them, so they share one server and one worker.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.storage.pool import create_pool
from tests.helpers import free_port, migrated_schema
from worker import registry
from worker.binaries import temporal_cli
from worker.config import Settings, load_settings
from worker.run import build_worker
from worker.telemetry import Metrics, TelemetryInterceptor
from workflows.visibility import ALL_SEARCH_ATTRIBUTES


@dataclass(frozen=True)
class Stack:
    """What the interface tests talk to."""

    client: Client
    address: str  # gRPC host:port
    http: str  # base URL of the HTTP API
    task_queue: str
    settings: Settings
    pool: asyncpg.Pool


@pytest.fixture(scope="session")
async def iface_schema(database_url: str) -> AsyncIterator[str]:
    """A migrated schema for the session's worker; dropped at the end."""
    async with migrated_schema(database_url, "iface") as schema:
        yield schema


@pytest.fixture(scope="session")
async def stack(database_url: str, iface_schema: str) -> AsyncIterator[Stack]:
    http_port = free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_cli()),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
        dev_server_extra_args=["--http-port", str(http_port)],
    )
    try:
        address = env.client.service_client.config.target_host
        settings = load_settings(
            task_queue=f"iface-{uuid.uuid4().hex[:8]}",
            temporal_address=address,
            database_url=database_url,
            database_schema=iface_schema,
            metrics_port=0,
        )
        pool = await create_pool(database_url, schema=iface_schema, max_size=5)
        try:
            metrics = Metrics(CollectorRegistry())
            deps = registry.ActivityDeps(pool=pool, metrics=metrics, settings=settings)
            worker = build_worker(
                env.client,
                settings,
                workflows=registry.WORKFLOWS,
                activities=registry.build_activities(deps),
                interceptors=[TelemetryInterceptor(metrics)],
            )
            try:
                async with worker:
                    yield Stack(
                        client=env.client,
                        address=address,
                        http=f"http://127.0.0.1:{http_port}",
                        task_queue=settings.task_queue,
                        settings=settings,
                        pool=pool,
                    )
            finally:
                for close in deps.closers:
                    await close()
        finally:
            await pool.close()
    finally:
        await env.shutdown()
