"""Small test helpers in the manner of sdk-python's tests/helpers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import asyncpg
from temporalio.client import Client
from temporalio.worker import Worker

from activities.storage.migrate import apply_migrations
from activities.storage.pool import create_pool

T = TypeVar("T")


def new_worker(
    client: Client,
    *workflows: type,
    activities: Sequence[Callable[..., Any]] = (),
    task_queue: str | None = None,
    **kwargs: Any,
) -> Worker:
    """A worker on its own uuid task queue, so tests never steal each other's tasks."""
    return Worker(
        client,
        task_queue=task_queue or f"tq-{uuid.uuid4()}",
        workflows=list(workflows),
        activities=list(activities),
        **kwargs,
    )


async def assert_eq_eventually(
    expected: T,
    fn: Callable[[], Awaitable[T]],
    *,
    timeout: timedelta = timedelta(seconds=10),
    interval: timedelta = timedelta(milliseconds=100),
) -> None:
    """Poll `fn` until it returns `expected`; fail with the last value after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout.total_seconds()
    last: T | None = None
    while True:
        last = await fn()
        if last == expected:
            return
        if loop.time() > deadline:
            break
        await asyncio.sleep(interval.total_seconds())
    msg = f"expected {expected!r}, last value {last!r}"
    raise AssertionError(msg)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def drop_schema(database_url: str, schema: str) -> None:
    """Drop a test's schema and everything in it."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def migrated_schema(database_url: str, prefix: str = "t") -> AsyncIterator[str]:
    """A fresh schema with every migration applied; dropped on exit."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    pool = await create_pool(database_url, schema=schema, max_size=1)
    try:
        async with pool.acquire() as conn:
            await apply_migrations(conn)
    finally:
        await pool.close()
    try:
        yield schema
    finally:
        await drop_schema(database_url, schema)
