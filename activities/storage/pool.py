"""One asyncpg pool per worker process, optionally bound to a schema.

The schema lets each test (and, if a municipality wants, each tenant) live in its own
namespace: the pool sets `search_path` on every connection, so SQL never names a schema.
"""

from __future__ import annotations

import re

import asyncpg

__all__ = ["SCHEMA_PATTERN", "DatabaseUnavailableError", "check_schema_name", "create_pool"]

SCHEMA_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class DatabaseUnavailableError(RuntimeError):
    """The database could not be reached with the configured URL."""


def check_schema_name(schema: str) -> str:
    """Return `schema` if it is a plain lower-case identifier; schemas are interpolated."""
    if not SCHEMA_PATTERN.match(schema):
        msg = f"database schema {schema!r}: expected a lower-case identifier ([a-z_][a-z0-9_]*)"
        raise ValueError(msg)
    return schema


async def create_pool(
    url: str,
    *,
    schema: str = "public",
    min_size: int = 1,
    max_size: int = 10,
    create_schema: bool = True,
    connect_timeout: float = 10.0,
) -> asyncpg.Pool:
    """Open a pool whose connections use `schema`; create the schema first if asked."""
    check_schema_name(schema)
    try:
        if create_schema and schema != "public":
            conn = await asyncpg.connect(url, timeout=connect_timeout)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            finally:
                await conn.close()
        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=connect_timeout,
            server_settings={"search_path": schema, "application_name": "civicflow"},
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as err:
        msg = f"cannot connect to PostgreSQL at {redact_url(url)}: {err}"
        raise DatabaseUnavailableError(msg) from err
    assert pool is not None
    return pool


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for logs and error messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
