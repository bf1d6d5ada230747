"""Shared fixtures: real PostgreSQL (one schema per test), real Temporal servers.

- `database_url`: `CIVICFLOW_TEST_DATABASE_URL`, else an embedded PostgreSQL from pgserver.
- `db_schema` / `db_pool`: a fresh schema per test, migrated, dropped afterwards.
- `env`: one time-skipping test server for the session (pydantic data converter).
- `dev_env`: one real Temporal dev server for the session, with our search attributes.
Each environment is shut down at session end: a live core runtime at interpreter exit can
abort Python (exit 134) after all tests passed.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from activities.storage.pool import create_pool
from tests.helpers import migrated_schema
from worker.binaries import temporal_cli, temporal_test_server
from workflows.visibility import ALL_SEARCH_ATTRIBUTES


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a PostgreSQL server for tests; embedded pgserver if none is configured."""
    configured = os.environ.get("CIVICFLOW_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (root shells, CI); harmless here.
        warnings.simplefilter("ignore")
        import pgserver

    with tempfile.TemporaryDirectory(prefix="civicflow-pg-") as data_dir:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(data_dir, cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@pytest.fixture
async def db_schema(database_url: str) -> AsyncIterator[str]:
    """A fresh, migrated schema for one test; dropped afterwards."""
    async with migrated_schema(database_url) as schema:
        yield schema


@pytest.fixture
async def db_pool(database_url: str, db_schema: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool bound to this test's own migrated schema."""
    pool = await create_pool(database_url, schema=db_schema, max_size=5)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """Time-skipping Temporal test server, shared by the session."""
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (the `temporal` CLI), shared by the session."""
    environment = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(temporal_cli()),
        search_attributes=ALL_SEARCH_ATTRIBUTES,
        dev_server_log_level="error",
    )
    try:
        yield environment
    finally:
        await environment.shutdown()
