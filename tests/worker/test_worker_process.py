"""`civicflow worker` as operators run it: a real subprocess, real Temporal and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.storage import pgcopy
from activities.storage.migrate import available_migrations
from tests.helpers import free_port

pytestmark = pytest.mark.integration

_EXIT_WITHIN = 60.0


def _run(exe: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), "worker", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=_EXIT_WITHIN,
        check=False,
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    return lines[0]


def test_wrong_temporal_address_fails_fast(
    civicflow_exe: Path, clean_env: dict[str, str], database_url: str
) -> None:
    port = free_port()  # nothing listens there
    result = _run(
        civicflow_exe,
        ["--temporal-address", f"127.0.0.1:{port}", "--metrics-port", "0"],
        {**clean_env, "CIVICFLOW_DATABASE_URL": database_url},
    )
    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert line.startswith(f"civicflow worker: cannot connect to Temporal at 127.0.0.1:{port}")


def test_wrong_database_url_fails_fast(
    civicflow_exe: Path, clean_env: dict[str, str], dev_env: WorkflowEnvironment
) -> None:
    port = free_port()
    result = _run(
        civicflow_exe,
        [
            "--temporal-address",
            dev_env.client.service_client.config.target_host,
            "--database-url",
            f"postgresql://civic:geheim@127.0.0.1:{port}/nowhere",
            "--metrics-port",
            "0",
        ],
        clean_env,
    )
    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert line.startswith(
        "civicflow worker: cannot connect to PostgreSQL at postgresql://civic:***@"
    )
    assert "geheim" not in result.stderr + result.stdout


def test_unmigrated_schema_is_refused_without_migrate(
    civicflow_exe: Path, clean_env: dict[str, str], dev_env: WorkflowEnvironment, database_url: str
) -> None:
    result = _run(
        civicflow_exe,
        [
            "--temporal-address",
            dev_env.client.service_client.config.target_host,
            "--database-url",
            database_url,
            "--database-schema",
            f"never_migrated_{uuid.uuid4().hex[:8]}",
            "--metrics-port",
            "0",
        ],
        clean_env,
    )
    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert "lacks migrations" in line
    assert "--migrate" in line


async def _scrape_until(
    url: str, needles: tuple[str, ...], proc: asyncio.subprocess.Process
) -> str:
    """Poll the endpoint until every needle shows up (the SDK reports after its first polls)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    text = ""
    async with httpx.AsyncClient(timeout=5) as http:
        while loop.time() < deadline:
            assert proc.returncode is None, "worker exited early"
            try:
                text = (await http.get(url)).text
            except httpx.HTTPError:
                text = ""
            if all(needle in text for needle in needles):
                return text
            await asyncio.sleep(0.25)
    msg = f"metrics never showed {needles}; last scrape:\n{text[:2000]}"
    raise AssertionError(msg)


async def test_worker_serves_both_metrics_and_exits_0_on_sigterm(
    civicflow_exe: Path,
    clean_env: dict[str, str],
    dev_env: WorkflowEnvironment,
    database_url: str,
    db_schema: str,
    tmp_path: Path,
) -> None:
    metrics_port = free_port()
    log_path = tmp_path / "worker.log"
    env = {
        **clean_env,
        "CIVICFLOW_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "CIVICFLOW_DATABASE_URL": database_url,
        "CIVICFLOW_DATABASE_SCHEMA": db_schema,
        "CIVICFLOW_TASK_QUEUE": f"proc-{uuid.uuid4()}",
        "CIVICFLOW_METRICS_HOST": "127.0.0.1",
        "CIVICFLOW_SHUTDOWN_GRACE_SECONDS": "10",
    }
    needles = ("\ntemporal_", "\ncivicflow_procedures_started_total", "civicflow_sdk_metrics_up 1")
    with log_path.open("w") as log:
        proc = await asyncio.create_subprocess_exec(
            str(civicflow_exe),
            "worker",
            "--metrics-port",
            str(metrics_port),
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            text = await _scrape_until(f"http://127.0.0.1:{metrics_port}/metrics", needles, proc)
            proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout=_EXIT_WITHIN)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert "temporal_request" in text
    assert proc.returncode == 0, stderr.decode()
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    events = [record["event"] for record in records]
    assert "worker started" in events
    assert "worker stopped" in events
    assert all("level" in record and "timestamp" in record for record in records)
    started = next(r for r in records if r["event"] == "worker started")
    assert started["gc_frozen_objects"] > 10_000  # start-up heap out of the collector's reach
    assert started["intake_encoder"] == ("compiled" if pgcopy.COMPILED else "python")


async def test_migrate_flag_prepares_a_fresh_schema(
    civicflow_exe: Path,
    clean_env: dict[str, str],
    dev_env: WorkflowEnvironment,
    database_url: str,
    tmp_path: Path,
) -> None:
    schema = f"fresh_{uuid.uuid4().hex[:10]}"
    log_path = tmp_path / "worker.log"
    env = {
        **clean_env,
        "CIVICFLOW_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "CIVICFLOW_DATABASE_URL": database_url,
        "CIVICFLOW_DATABASE_SCHEMA": schema,
        "CIVICFLOW_TASK_QUEUE": f"migrate-{uuid.uuid4()}",
        "CIVICFLOW_METRICS_PORT": "0",
    }
    try:
        with log_path.open("w") as log:
            proc = await asyncio.create_subprocess_exec(
                str(civicflow_exe), "worker", "--migrate", env=env, stdout=log, stderr=log
            )
            try:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 60
                while '"worker started"' not in log_path.read_text():
                    assert proc.returncode is None, log_path.read_text()
                    assert loop.time() < deadline, log_path.read_text()
                    await asyncio.sleep(0.1)
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(proc.wait(), timeout=_EXIT_WITHIN) == 0
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        conn = await asyncpg.connect(database_url)
        try:
            versions = await conn.fetch(f'SELECT version FROM "{schema}".schema_migrations')
        finally:
            await conn.close()
        assert sorted(r["version"] for r in versions) == [m.version for m in available_migrations()]
    finally:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()


def test_metrics_port_in_use_is_named(civicflow_exe: Path, clean_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = _run(
            civicflow_exe, ["--metrics-host", "127.0.0.1", "--metrics-port", str(port)], clean_env
        )
    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert line.startswith(f"civicflow worker: metrics port {port} on 127.0.0.1 is already in use")
