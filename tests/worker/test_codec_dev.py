"""`civicflow dev` with payload keys: the codec server starts, the Web UI is pointed at it, and
what the demo procedure wrote to Temporal (ciphertext) comes back in clear through it over
HTTP. Without keys nothing of this starts (the plain `make dev`: tests/worker/test_dev_stack.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client

from tests.worker.test_dev_stack import DevPorts, DevStack, _distinct_free_ports
from worker.codec import ENCODING, EncryptionCodec
from worker.devstack.stack import (
    DEMO_PROCEDURE_ID,
    DevOptions,
    _payloads_line,
    banner,
    dev_ports,
)
from worker.devstack.temporal_server import TemporalDevServer

_WITHIN = 120.0
KEY = os.urandom(32)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def test_without_keys_no_codec_port_flag_or_line() -> None:
    options = DevOptions(codec_port=18081)
    assert "codec server" not in dev_ports(options, codec=False)
    assert dev_ports(options, codec=True)["codec server"] == (18081, "--codec-port")
    server = TemporalDevServer(
        binary=Path("temporal"),
        db_file=Path("t.db"),
        log_file=Path("t.log"),
        host="127.0.0.1",
        grpc_port=1,
        ui_port=2,
        http_port=3,
    )
    assert "--ui-codec-endpoint" not in server.command()
    plain = banner(server, None, "db", "civicflow", payloads=_payloads_line(None, None))
    assert "Payloads         not encrypted" in plain
    assert "Codec server" not in plain
    server.ui_codec_endpoint = "http://127.0.0.1:18081"
    command = server.command()
    assert command[command.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:18081"
    codec = EncryptionCodec({"k1": KEY}, "k1")
    line = _payloads_line(codec, "http://127.0.0.1:18081")
    assert line.startswith("  Codec server     http://127.0.0.1:18081 (payloads encrypted")
    assert b64(KEY) not in line


@pytest.fixture
async def dev_schema(database_url: str) -> AsyncIterator[str]:
    schema = f"devcodec_{uuid.uuid4().hex[:12]}"
    yield schema
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


class CodecDevStack(DevStack):
    """`civicflow dev` with an extra `--codec-port`."""

    def __init__(
        self, exe: Path, state_dir: Path, ports: DevPorts, env: dict[str, str], codec_port: int
    ) -> None:
        super().__init__(exe, state_dir, ports, env)
        self.codec_port = codec_port

    async def start(self) -> None:
        with self.out_path.open("w") as out:
            self.proc = await asyncio.create_subprocess_exec(
                str(self.exe),
                "dev",
                "--state-dir",
                str(self.state_dir),
                *self.ports.flags(),
                "--codec-port",
                str(self.codec_port),
                env=self.env,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )


async def _encrypted_demo_input(address: str) -> list[Payload]:
    """The demo procedure's start input as Temporal stores it (a client without keys)."""
    client = await Client.connect(address)
    deadline = asyncio.get_running_loop().time() + _WITHIN
    while True:
        try:
            history = await client.get_workflow_handle(DEMO_PROCEDURE_ID).fetch_history()
            break
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
    started = history.events[0].workflow_execution_started_event_attributes
    return list(started.input.payloads)


def _codec_port(ports: DevPorts) -> int:
    taken = {ports.grpc, ports.ui, ports.http, ports.metrics, ports.mail, ports.web}
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in taken:
            return port


@pytest.mark.integration
async def test_dev_stack_with_a_key_file_serves_decoded_payloads_to_the_web_ui(
    civicflow_exe: Path,
    clean_env: dict[str, str],
    database_url: str,
    dev_schema: str,
    tmp_path: Path,
) -> None:
    keys_file = tmp_path / "payload-keys"
    keys_file.write_text(f"dev1:{b64(KEY)}\n", encoding="utf-8")
    ports = _distinct_free_ports()
    codec_port = _codec_port(ports)
    env = {
        **clean_env,
        "CIVICFLOW_DATABASE_URL": database_url,
        "CIVICFLOW_DATABASE_SCHEMA": dev_schema,
        "CIVICFLOW_SHUTDOWN_GRACE_SECONDS": "10",
        "CIVICFLOW_PAYLOAD_KEYS_FILE": str(keys_file),
    }
    stack = CodecDevStack(civicflow_exe, tmp_path / "state", ports, env, codec_port)
    await stack.start()
    try:
        await stack.wait_up()
        codec_url = f"http://127.0.0.1:{codec_port}"
        ui_origin = f"http://127.0.0.1:{ports.ui}"
        assert f"Codec server     {codec_url} (payloads encrypted, current key dev1" in (
            stack.output()
        )
        # The Web UI was started with the codec server as its endpoint.
        async with httpx.AsyncClient(base_url=ui_origin, timeout=30) as ui:
            settings = (await ui.get("/api/v1/settings")).json()
        assert settings["Codec"]["Endpoint"] == codec_url
        # Temporal holds ciphertext; the codec server gives the UI the procedure in clear.
        stored = await _encrypted_demo_input(f"127.0.0.1:{ports.grpc}")
        assert [payload.metadata["encoding"] for payload in stored] == [ENCODING]
        body = json_format.MessageToDict(Payloads(payloads=stored))
        async with httpx.AsyncClient(base_url=codec_url, timeout=30) as http:
            assert (await http.get("/healthz")).status_code == 200
            answer = await http.post(
                "/decode", json=body, headers={"Origin": ui_origin, "X-Namespace": "default"}
            )
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == ui_origin
        (decoded,) = json_format.Parse(answer.content, Payloads()).payloads
        assert "Mühlweg-Süd" in json.loads(decoded.data)["title"]
        assert await stack.interrupt() == 0
    finally:
        await stack.kill()
    output = stack.output()
    assert "Traceback" not in output
    assert b64(KEY) not in output
    with socket.socket() as probe:  # the codec server stopped with the stack
        assert probe.connect_ex(("127.0.0.1", codec_port)) != 0
