"""Migrations: idempotent, safe when several processes migrate at once, loud on edits."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from activities.storage.migrate import (
    Migration,
    MigrationError,
    apply_migrations,
    available_migrations,
)
from activities.storage.pool import create_pool
from tests.helpers import drop_schema


async def _fresh_schema(database_url: str) -> str:
    return f"m_{uuid.uuid4().hex[:12]}"


async def test_second_run_applies_nothing(database_url: str) -> None:
    schema = await _fresh_schema(database_url)
    pool = await create_pool(database_url, schema=schema, max_size=1)
    try:
        async with pool.acquire() as conn:
            first = await apply_migrations(conn)
            second = await apply_migrations(conn)
            recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert [m.version for m in first] == [m.version for m in available_migrations()]
        assert second == []
        assert recorded == len(available_migrations())
    finally:
        await pool.close()
        await drop_schema(database_url, schema)


async def test_concurrent_migrate_applies_each_once(database_url: str) -> None:
    schema = await _fresh_schema(database_url)
    pools = [await create_pool(database_url, schema=schema, max_size=1) for _ in range(4)]

    async def run(pool: asyncpg.Pool) -> list[Migration]:
        async with pool.acquire() as conn:
            return await apply_migrations(conn)

    try:
        results = await asyncio.gather(*(run(pool) for pool in pools))
        applied = sorted(m.version for result in results for m in result)
        assert applied == [m.version for m in available_migrations()]
    finally:
        for pool in pools:
            await pool.close()
        await drop_schema(database_url, schema)


async def test_edited_migration_is_refused(db_pool: asyncpg.Pool) -> None:
    original = available_migrations()[0]
    edited = Migration(original.version, original.name, original.sql + "\n-- edited\n")
    async with db_pool.acquire() as conn:
        with pytest.raises(MigrationError, match="was changed after it was applied"):
            await apply_migrations(conn, [edited])


async def test_failing_migration_rolls_back(db_pool: asyncpg.Pool) -> None:
    broken = Migration(9999, "broken", "CREATE TABLE ok_table (x int); SELECT no_such_column;")
    async with db_pool.acquire() as conn:
        with pytest.raises(MigrationError, match="9999_broken failed"):
            await apply_migrations(conn, [broken])
        exists = await conn.fetchval("SELECT to_regclass('ok_table') IS NOT NULL")
        recorded = await conn.fetchval(
            "SELECT count(*) FROM schema_migrations WHERE version = 9999"
        )
    assert exists is False
    assert recorded == 0
