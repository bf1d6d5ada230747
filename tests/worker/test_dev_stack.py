"""`civicflow dev` as a newcomer runs it: up, a workflow via the real CLI, Ctrl-C, up again."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import json
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from activities import contracts
from activities.records import NotificationRequest, ParticipantRecord, ProcedureRecord
from activities.storage.activities import StorageActivities
from activities.storage.pool import create_pool
from tests.helpers import free_port
from worker.binaries import temporal_cli
from worker.devstack.stack import DEMO_PROCEDURE_ID

pytestmark = pytest.mark.integration

_UP_WITHIN = 120.0
_DOWN_WITHIN = 60.0


@dataclass
class DevPorts:
    grpc: int
    ui: int
    http: int
    metrics: int
    mail: int
    web: int

    def flags(self) -> list[str]:
        return [
            "--grpc-port",
            str(self.grpc),
            "--ui-port",
            str(self.ui),
            "--http-port",
            str(self.http),
            "--metrics-port",
            str(self.metrics),
            "--mail-port",
            str(self.mail),
            "--web-port",
            str(self.web),
        ]


def _distinct_free_ports() -> DevPorts:
    ports: set[int] = set()
    while len(ports) < 6:
        ports.add(free_port())
    grpc, ui, http, metrics, mail, web = sorted(ports)
    return DevPorts(grpc, ui, http, metrics, mail, web)


async def _eventually_ok(site: httpx.AsyncClient, path: str) -> httpx.Response:
    """GET `path` until it answers 200 (the worker stores events asynchronously)."""
    deadline = asyncio.get_running_loop().time() + _UP_WITHIN
    while True:
        response = await site.get(path)
        if response.status_code == 200 or asyncio.get_running_loop().time() > deadline:
            assert response.status_code == 200, f"{path}: {response.status_code}"
            return response
        await asyncio.sleep(0.5)


async def _queue_a_reminder(database_url: str, schema: str) -> str:
    """Register a participant and queue one reminder in the dev stack's database, as the
    engine would; the dev worker's outbox pump sends it. Returns the expected subject."""
    pool = await create_pool(database_url, schema=schema, max_size=1)
    try:
        storage = StorageActivities(pool)
        procedure = "dev-mail-check"
        started = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        await storage.record_procedure(
            contracts.RecordProcedureInput(
                procedure=ProcedureRecord(
                    procedure_id=procedure,
                    definition_id="baugb-3-2",
                    definition_version="1",
                    definition_hash="0" * 64,
                    title="Bebauungsplan Mailprobe",
                    municipality="08221000",
                    land="BW",
                    started_at=started,
                    kind="bauleitplanung",
                )
            )
        )
        person = ParticipantRecord(
            procedure_id=procedure,
            participant_id="dev-mail-participant",
            role="public",
            email="erika@example.org",
            registered_at=started,
        )
        await storage.register_participant(contracts.RegisterParticipantInput(participant=person))
        await storage.send_notifications(
            contracts.SendNotificationsInput(
                procedure_id=procedure,
                notifications=[
                    NotificationRequest(
                        procedure_id=procedure,
                        notification_id="dev-mail-reminder",
                        template="reminder",
                        audience="public",
                        participant_refs=[person.participant_id],
                        context={"days_left": 2},
                    )
                ],
            )
        )
    finally:
        await pool.close()
    return "Erinnerung: noch 2 Tage – Bebauungsplan Mailprobe"


def _kept_mails(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.eml"))


def _read_mail(path: Path) -> email.message.EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


async def _wait_for_mail(
    directory: Path, procedure_id: str, within: float = 60.0
) -> email.message.EmailMessage:
    """The first kept mail about `procedure_id` (the demo procedure may send mail too)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        for path in _kept_mails(directory):
            message = _read_mail(path)
            if message["X-Civicflow-Procedure"] == procedure_id:
                return message
        if loop.time() > deadline:
            msg = f"no mail about {procedure_id} arrived in {directory} within {within} s"
            raise AssertionError(msg)
        await asyncio.sleep(0.5)


@pytest.fixture
async def dev_schema(database_url: str) -> AsyncIterator[str]:
    """A schema name for the dev stack to create and migrate; dropped afterwards."""
    schema = f"dev_{uuid.uuid4().hex[:12]}"
    yield schema
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


class DevStack:
    """One `civicflow dev` subprocess with its output in a file."""

    def __init__(self, exe: Path, state_dir: Path, ports: DevPorts, env: dict[str, str]) -> None:
        self.exe, self.state_dir, self.ports, self.env = exe, state_dir, ports, env
        self.out_path = state_dir.parent / f"dev-{uuid.uuid4().hex[:6]}.out"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.out_path.open("w") as out:
            self.proc = await asyncio.create_subprocess_exec(
                str(self.exe),
                "dev",
                "--state-dir",
                str(self.state_dir),
                *self.ports.flags(),
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    async def wait_up(self) -> None:
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _UP_WITHIN
        while "civicflow dev is up." not in self.output():
            if self.proc.returncode is not None or loop.time() > deadline:
                msg = f"civicflow dev did not come up:\n{self.output()[-3000:]}"
                raise AssertionError(msg)
            await asyncio.sleep(0.25)

    def server_pid(self) -> int:
        for line in self.output().splitlines():
            if line.startswith("{") and "temporal dev server starting" in line:
                pid: int = json.loads(line)["pid"]
                return pid
        msg = f"no server pid logged:\n{self.output()[-2000:]}"
        raise AssertionError(msg)

    async def interrupt(self) -> int:
        """Ctrl-C, as a terminal would send it; return the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout=_DOWN_WITHIN)
        finally:
            await self.kill()

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def _temporal(*args: str, address: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(temporal_cli()),
        *args,
        "--address",
        address,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    text = out.decode()
    assert proc.returncode == 0, f"temporal {' '.join(args)} failed:\n{text}"
    return text


def _processes_mentioning(needle: str) -> list[int]:
    """Pids whose command line contains `needle` (finds orphans even after pid reuse)."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if needle in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="orphan check reads /proc")
async def test_dev_stack_runs_stops_cleanly_and_keeps_state(
    civicflow_exe: Path,
    clean_env: dict[str, str],
    database_url: str,
    dev_schema: str,
    tmp_path: Path,
) -> None:
    state_dir = tmp_path / "state"
    ports = _distinct_free_ports()
    env = {
        **clean_env,
        "CIVICFLOW_DATABASE_URL": database_url,
        "CIVICFLOW_DATABASE_SCHEMA": dev_schema,
        "CIVICFLOW_SHUTDOWN_GRACE_SECONDS": "10",
    }
    address = f"127.0.0.1:{ports.grpc}"
    workflow_id = f"cli-{uuid.uuid4().hex[:8]}"

    first = DevStack(civicflow_exe, state_dir, ports, env)
    await first.start()
    try:
        await first.wait_up()
        banner = first.output()
        assert f"http://127.0.0.1:{ports.ui}" in banner
        assert f"http://127.0.0.1:{ports.metrics}/metrics" in banner
        assert f"smtp://127.0.0.1:{ports.mail} -> " in banner
        assert "workflow start" in banner
        # The public site runs on the dev stack's database and answers.
        assert f"Public site      http://127.0.0.1:{ports.web}" in banner
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.web}") as site:
            assert (await site.get("/healthz")).status_code == 200
            listing = await site.get("/")
            assert listing.status_code == 200
            assert '<html lang="de"' in listing.text
            # The demo procedure runs on the dev worker and reaches the site's read model.
            demo = await _eventually_ok(site, f"/procedures/{DEMO_PROCEDURE_ID}")
            assert "Mühlweg-Süd" in demo.text
        # The worker's mail sender points at the sink: a queued mail lands as .eml.
        subject = await _queue_a_reminder(database_url, dev_schema)
        message = await _wait_for_mail(state_dir / "mail", "dev-mail-check")
        assert message["Subject"] == subject
        assert message["X-Original-To"] == "erika@example.org"
        await _temporal(
            "workflow",
            "start",
            "--task-queue",
            "civicflow",
            "--type",
            "Skeleton",
            "--workflow-id",
            workflow_id,
            "--input",
            '{"message": "hallo"}',
            address=address,
        )
        result = await _temporal(
            "workflow", "result", "--workflow-id", workflow_id, address=address
        )
        assert f"{workflow_id}/ping" in result
        server_pid = first.server_pid()
        assert await first.interrupt() == 0
    finally:
        await first.kill()
    assert "Traceback" not in first.output()
    db_file = str(state_dir.resolve() / "temporal.db")
    assert _processes_mentioning(db_file) == [], "temporal dev server outlived civicflow dev"
    with pytest.raises(ProcessLookupError):
        os.kill(server_pid, 0)

    kept = len(_kept_mails(state_dir / "mail"))
    assert kept >= 1
    second = DevStack(civicflow_exe, state_dir, ports, env)
    await second.start()
    try:
        await second.wait_up()
        assert f"({kept} kept, .eml files)" in second.output()  # mail survives restarts
        listed = await _temporal("workflow", "list", address=address)
        assert workflow_id in listed
        assert "civicflow-demo-skeleton" in listed
        assert DEMO_PROCEDURE_ID in listed
        assert await second.interrupt() == 0
    finally:
        await second.kill()
    assert _processes_mentioning(db_file) == []

    conn = await asyncpg.connect(database_url)
    try:
        count = await conn.fetchval(
            f'SELECT count(*) FROM "{dev_schema}".skeleton_pings WHERE workflow_id = $1',
            workflow_id,
        )
        demo = await conn.fetchval(
            f'SELECT count(*) FROM "{dev_schema}".skeleton_pings WHERE workflow_id = $1',
            "civicflow-demo-skeleton",
        )
    finally:
        await conn.close()
    assert count == 1
    assert demo == 1  # the second run did not start the demo again


async def test_port_in_use_is_named(
    civicflow_exe: Path, clean_env: dict[str, str], tmp_path: Path
) -> None:
    ports = _distinct_free_ports()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports.ui))
        taken.listen(1)
        proc = await asyncio.create_subprocess_exec(
            str(civicflow_exe),
            "dev",
            "--state-dir",
            str(tmp_path / "state"),
            *ports.flags(),
            env=clean_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=_DOWN_WITHIN)
    assert proc.returncode == 1
    lines = [line for line in stderr.decode().splitlines() if line.strip()]
    assert len(lines) == 1, stderr.decode()
    assert lines[0].startswith(
        f"civicflow dev: port {ports.ui} (Temporal Web UI) is already in use"
    )
    assert "--ui-port" in lines[0]
    assert not (tmp_path / "state" / "temporal.db").exists()
