"""`civicflow codec-server` as operators run it: a real subprocess, real HTTP, SIGTERM."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import signal
from pathlib import Path

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from worker.codec import EncryptionCodec

pytestmark = pytest.mark.integration

_WITHIN = 60.0


async def test_codec_server_process_encodes_and_exits_0(
    civicflow_exe: Path, clean_env: dict[str, str]
) -> None:
    key = os.urandom(32)
    env = {
        **clean_env,
        "CIVICFLOW_PAYLOAD_KEYS": f"k1:{base64.b64encode(key).decode()}",
        "CIVICFLOW_CODEC_SERVER_TOKEN": "t0k3n",
    }
    proc = await asyncio.create_subprocess_exec(
        str(civicflow_exe),
        "codec-server",
        "--port",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        url = None
        while url is None:
            line = (await asyncio.wait_for(proc.stdout.readline(), timeout=_WITHIN)).decode()
            assert line, "codec-server exited before serving"
            found = re.search(r"serving (http://\S+) \(keys k1;", line)
            url = found.group(1) if found else None
        plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"Erika"')
        body = json_format.MessageToDict(Payloads(payloads=[plain]))
        async with httpx.AsyncClient(base_url=url, timeout=_WITHIN) as http:
            answer = await http.post(
                "/encode", json=body, headers={"Authorization": "Bearer t0k3n"}
            )
        assert answer.status_code == 200, answer.text
        encoded = json_format.Parse(answer.content, Payloads()).payloads
        assert b"Erika" not in encoded[0].data
        assert await EncryptionCodec({"k1": key}, "k1").decode(list(encoded)) == [plain]
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=_WITHIN)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()
    assert base64.b64encode(key) not in stderr
