"""deploy/postgres/10-civicflow.sh creates civicflow's role and database on a real server."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
import pytest

from tests.deploy.files import DEPLOY

SCRIPT = DEPLOY / "postgres" / "10-civicflow.sh"


def libpq_env(url: str) -> dict[str, str]:
    """PG* variables for psql from a postgresql:// URL (TCP or a socket in ?host=)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    env = {
        "PGHOST": query.get("host", [parts.hostname or ""])[0],
        "PGPORT": str(parts.port or query.get("port", ["5432"])[0]),
        "PGUSER": unquote(parts.username or "postgres"),
    }
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return env


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")
async def test_init_script_creates_a_login_role_owning_its_database(database_url: str) -> None:
    name = f"cf_init_{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex
    pg = libpq_env(database_url)
    env = {
        **os.environ,
        **pg,
        "POSTGRES_USER": pg["PGUSER"],
        "CIVICFLOW_DB_PASSWORD": password,
        "CIVICFLOW_DB_USER": name,
        "CIVICFLOW_DB_NAME": name,
    }
    admin = await asyncpg.connect(database_url)
    try:
        process = await asyncio.create_subprocess_exec(
            "sh",
            str(SCRIPT),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, output.decode()
        owner = await admin.fetchval(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name
        )
        assert owner == name
        can_login = await admin.fetchval(
            "SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", name
        )
        assert can_login is True
        assert await admin.fetchval(
            "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1", name
        )
        # Without the password variable the script refuses to run at all.
        refused = await asyncio.create_subprocess_exec(
            "sh",
            str(SCRIPT),
            env={key: value for key, value in env.items() if key != "CIVICFLOW_DB_PASSWORD"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        message, _ = await asyncio.wait_for(refused.communicate(), timeout=60)
        assert refused.returncode != 0
        assert b"CIVICFLOW_DB_PASSWORD" in message
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
        await admin.close()
