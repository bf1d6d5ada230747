"""Versioned SQL migrations, applied idempotently under an advisory lock.

Files in `migrations/` are named `NNNN_description.sql` and applied in order, each inside its
own transaction together with its row in `schema_migrations`. A transaction-level advisory lock
keyed by the schema makes two workers that start together apply each migration exactly once.
A migration file that changed after it was applied is reported, never silently re-run.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from importlib import resources

import asyncpg

__all__ = ["Migration", "MigrationError", "apply_migrations", "available_migrations"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """A migration could not be applied or the applied set does not match the files."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    """All migrations shipped in the package, in version order."""
    found: list[Migration] = []
    root = resources.files("activities.storage") / "migrations"
    for entry in root.iterdir():
        match = _NAME.match(entry.name)
        if not match:
            continue
        found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        msg = f"duplicate migration versions in {sorted(versions)}"
        raise MigrationError(msg)
    return found


_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


async def apply_migrations(
    conn: asyncpg.Connection, migrations: list[Migration] | None = None
) -> list[Migration]:
    """Apply every migration not yet recorded; return those applied by this call."""
    todo = available_migrations() if migrations is None else migrations
    schema = await conn.fetchval("SELECT current_schema()")
    if schema is None:
        msg = "no current schema: does the search_path name an existing schema?"
        raise MigrationError(msg)
    lock_key = zlib.crc32(f"civicflow-migrate:{schema}".encode())
    applied_now: list[Migration] = []
    for migration in todo:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
            await conn.execute(_BOOKKEEPING)
            existing = await conn.fetchrow(
                "SELECT checksum FROM schema_migrations WHERE version = $1", migration.version
            )
            if existing is not None:
                if existing["checksum"] != migration.checksum:
                    msg = (
                        f"migration {migration.version:04d}_{migration.name} was changed after "
                        "it was applied; add a new migration instead of editing an old one"
                    )
                    raise MigrationError(msg)
                continue
            try:
                await conn.execute(migration.sql)
            except asyncpg.PostgresError as err:
                msg = f"migration {migration.version:04d}_{migration.name} failed: {err}"
                raise MigrationError(msg) from err
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration)
    return applied_now
