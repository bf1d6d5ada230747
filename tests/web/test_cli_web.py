"""`civicflow web` as operators run it: a real subprocess over a real PostgreSQL schema."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

pytestmark = pytest.mark.integration

_EXIT_WITHIN = 60.0


@pytest.fixture(scope="module")
def civicflow_exe() -> Path:
    exe = Path(sys.executable).parent / "civicflow"
    assert exe.is_file(), f"{exe} missing: is the project installed (pip install -e .)?"
    return exe


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment without CIVICFLOW_* settings, so only the test's own apply."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICFLOW_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _run(exe: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), "web", *args],
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


@pytest.fixture
def serving(
    civicflow_exe: Path, clean_env: dict[str, str], database_url: str, db_schema: str
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`civicflow web` on a free port over the test's migrated schema, until /healthz is 200."""
    port = free_port()
    env = {
        **clean_env,
        "CIVICFLOW_DATABASE_URL": database_url,
        "CIVICFLOW_DATABASE_SCHEMA": db_schema,
    }
    process = subprocess.Popen(
        [str(civicflow_exe), "web", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + _EXIT_WITHIN
        while True:
            assert process.poll() is None, process.communicate()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "civicflow web did not answer /healthz"
            time.sleep(0.2)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_serves_pages_and_stops_cleanly_on_sigterm(
    serving: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = serving
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    page = httpx.get(f"{base}/?lang=en")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert httpx.get(f"{base}/procedures/nope").status_code == 404
    assert httpx.get(f"{base}/?page=-1").status_code == 400
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=_EXIT_WITHIN)
    assert process.returncode == 0, err
    assert f"serving http://127.0.0.1:{port}" in out


def test_port_in_use_is_one_line(
    civicflow_exe: Path, clean_env: dict[str, str], database_url: str, db_schema: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(
            civicflow_exe,
            ["--port", str(port), "--database-url", database_url, "--database-schema", db_schema],
            clean_env,
        )
    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert line.startswith(f"civicflow web: port {port} on 127.0.0.1 is already in use")


def test_unreachable_database_is_one_line_without_password(
    civicflow_exe: Path, clean_env: dict[str, str]
) -> None:
    port = free_port()
    result = _run(
        civicflow_exe,
        ["--database-url", f"postgresql://civic:geheim@127.0.0.1:{port}/nowhere"],
        clean_env,
    )
    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert line.startswith("civicflow web: cannot connect to PostgreSQL at postgresql://civic:***@")
    assert "geheim" not in result.stderr + result.stdout


def test_unmigrated_schema_says_run_migrate(
    civicflow_exe: Path, clean_env: dict[str, str], database_url: str
) -> None:
    env = {**clean_env, "CIVICFLOW_DATABASE_URL": database_url}
    result = _run(civicflow_exe, ["--database-schema", "pg_catalog"], env)
    assert result.returncode == 1
    line = _one_line(result.stderr)
    assert "has no public read model" in line
    assert "civicflow migrate" in line


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (["--port", "70000"], {}, "port (CIVICFLOW_WEB_PORT)"),
        (["--base-url", "ftp://x"], {}, "base_url (CIVICFLOW_WEB_BASE_URL)"),
        ([], {"CIVICFLOW_DATABASE_SCHEMA": "Bad-Schema"}, "CIVICFLOW_DATABASE_SCHEMA"),
        ([], {"CIVICFLOW_WEB_MUNICIPALITY_NAMES": '{"HD": "x"}'}, "municipality_names"),
    ],
)
def test_bad_settings_exit_2_naming_the_setting(
    civicflow_exe: Path,
    clean_env: dict[str, str],
    args: list[str],
    env: dict[str, str],
    names: str,
) -> None:
    result = _run(civicflow_exe, args, {**clean_env, **env})
    assert result.returncode == 2
    line = _one_line(result.stderr)
    assert line.startswith("civicflow web: invalid configuration:")
    assert names in line
