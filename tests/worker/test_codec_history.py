"""Encryption end to end: a real dev server stores only ciphertext; the codec server decodes it.

A registration (name, e-mail) goes in as workflow input, through an activity and back as the
result. The history is then read by a client WITHOUT the codec, as the Temporal server and
anyone with access to it see it. The same run without a key is the control: there the name
is in the history, so the assertion can fail.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from google.protobuf import json_format
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner

from tests.helpers import assert_eq_eventually, new_worker
from worker.client import connect, payload_codec
from worker.codec import ENCODING, EncryptionCodec, UnknownPayloadKeyError
from worker.codec_server import load_codec_server_settings, serve
from worker.config import Settings, load_settings
from workflows.messages import RegisterInput

NAME = "Erika Mustermann"
EMAIL = "erika.mustermann@example.org"
UI_ORIGIN = "http://127.0.0.1:8233"
TOKEN = "codec-test-token"


@activity.defn(name="codec_probe_confirm")
async def confirm(registration: RegisterInput) -> str:
    return f"registered {registration.name} <{registration.email}>"


@workflow.defn(name="CodecProbe")
class CodecProbe:
    """Carries personal data through every kind of payload: input, activity, result."""

    @workflow.run
    async def run(self, registration: RegisterInput) -> str:
        return await workflow.execute_activity(
            confirm, registration, start_to_close_timeout=timedelta(seconds=30)
        )


@workflow.defn(name="CodecRotationProbe")
class CodecRotationProbe:
    """Starts under one key, waits for a signal sent after the rotation, returns both."""

    def __init__(self) -> None:
        self.later: str | None = None

    @workflow.run
    async def run(self, first: str) -> str:
        await workflow.wait_condition(lambda: self.later is not None)
        return f"{first} + {self.later}"

    @workflow.signal
    def add(self, text: str) -> None:
        self.later = text


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


@pytest.fixture
def encrypted_settings(dev_env: WorkflowEnvironment) -> Settings:
    target = dev_env.client.service_client.config.target_host
    keys = f"old:{b64(os.urandom(32))},new:{b64(os.urandom(32))}"
    return load_settings(temporal_address=target, payload_keys=keys, payload_key_id="new")


@pytest.fixture
async def encrypted_client(encrypted_settings: Settings) -> Client:
    return await connect(encrypted_settings)


async def run_probe(client: Client) -> tuple[str, str]:
    """Run CodecProbe with a worker on `client`; (workflow id, result)."""
    registration = RegisterInput(idempotency_key="reg-1", role="citizen", name=NAME, email=EMAIL)
    workflow_id = f"codec-{uuid.uuid4()}"
    async with new_worker(
        client, CodecProbe, activities=[confirm], workflow_runner=UnsandboxedWorkflowRunner()
    ) as running:
        result = await client.execute_workflow(
            CodecProbe.run, registration, id=workflow_id, task_queue=running.task_queue
        )
    return workflow_id, result


async def raw_history(client: Client, workflow_id: str) -> History:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return History(events=history.events)


async def test_history_holds_no_personal_data(
    dev_env: WorkflowEnvironment, encrypted_client: Client
) -> None:
    workflow_id, result = await run_probe(encrypted_client)
    assert result == f"registered {NAME} <{EMAIL}>"  # the codec client reads it back

    stored = (await raw_history(dev_env.client, workflow_id)).SerializeToString()
    assert NAME.encode() not in stored
    assert EMAIL.encode() not in stored
    assert ENCODING in stored

    # control: without a key the same run leaves the name in the history
    plain_id, _ = await run_probe(dev_env.client)
    assert NAME.encode() in (await raw_history(dev_env.client, plain_id)).SerializeToString()


@pytest.fixture
async def codec_server_url(encrypted_settings: Settings) -> AsyncIterator[str]:
    codec = payload_codec(encrypted_settings)
    assert codec is not None
    settings = load_codec_server_settings(port=0, cors_origins=UI_ORIGIN, token=TOKEN)
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, codec, stop, ready=ready.set_result))
    try:
        yield await asyncio.wait_for(ready, timeout=30)
    finally:
        stop.set()
        await task


def as_json(payloads: list[Payload]) -> dict[str, object]:
    return json_format.MessageToDict(Payloads(payloads=payloads))


async def test_codec_server_decodes_history_over_http(
    dev_env: WorkflowEnvironment,
    encrypted_client: Client,
    encrypted_settings: Settings,
    codec_server_url: str,
) -> None:
    workflow_id, _ = await run_probe(encrypted_client)
    history = await raw_history(dev_env.client, workflow_id)
    started = history.events[0].workflow_execution_started_event_attributes
    encrypted = list(started.input.payloads)
    assert encrypted[0].metadata["encoding"] == ENCODING

    auth = {"Authorization": f"Bearer {TOKEN}", "Origin": UI_ORIGIN, "X-Namespace": "default"}
    async with httpx.AsyncClient(base_url=codec_server_url, timeout=30) as http:
        refused = await http.post("/decode", json=as_json(encrypted))
        assert refused.status_code == 401

        answer = await http.post("/decode", json=as_json(encrypted), headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
        decoded = json_format.Parse(answer.content, Payloads()).payloads
        registration = json.loads(decoded[0].data)
        assert (registration["name"], registration["email"]) == (NAME, EMAIL)

        # /encode is the reverse, with the current key; the worker's codec reads it
        encoded = await http.post("/encode", json=as_json(list(decoded)), headers=auth)
        assert encoded.status_code == 200, encoded.text
        again = json_format.Parse(encoded.content, Payloads()).payloads
        assert again[0].metadata["encryption-key-id"] == b"new"
        codec = payload_codec(encrypted_settings)
        assert codec is not None
        assert await codec.decode(list(again)) == list(decoded)

        # a key this server lacks: a 400 that names the key id
        foreign = await EncryptionCodec({"gone": os.urandom(32)}, "gone").encode(list(decoded))
        unknown = await http.post("/decode", json=as_json(foreign), headers=auth)
        assert unknown.status_code == 400
        assert "'gone'" in unknown.json()["error"]

        bad = await http.post("/decode", content=b"{not json", headers=auth)
        assert bad.status_code == 400

        preflight = await http.options(
            "/decode",
            headers={
                "Origin": UI_ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == UI_ORIGIN
        assert "POST" in preflight.headers["access-control-allow-methods"]

        stranger = await http.options(
            "/decode",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in stranger.headers


async def test_rotation_on_a_running_workflow(dev_env: WorkflowEnvironment) -> None:
    """RUNBOOK steps 1-2: a run started under the old key finishes under the new one."""
    target = dev_env.client.service_client.config.target_host
    old, new = b64(os.urandom(32)), b64(os.urandom(32))
    before = await connect(load_settings(temporal_address=target, payload_keys=f"k1:{old}"))
    after = await connect(
        load_settings(
            temporal_address=target, payload_keys=f"k1:{old},k2:{new}", payload_key_id="k2"
        )
    )
    task_queue = f"tq-{uuid.uuid4()}"
    workflow_id = f"rotate-{uuid.uuid4()}"
    runner = UnsandboxedWorkflowRunner()
    async with new_worker(
        before, CodecRotationProbe, task_queue=task_queue, workflow_runner=runner
    ):
        handle = await before.start_workflow(
            CodecRotationProbe.run, NAME, id=workflow_id, task_queue=task_queue
        )

        async def first_task_done() -> bool:
            history = await handle.fetch_history()
            return any(
                e.HasField("workflow_task_completed_event_attributes") for e in history.events
            )

        await assert_eq_eventually(True, first_task_done)  # the first task ran under k1 only
    # a fresh worker (no cached state) replays the k1 history with the new key set
    async with new_worker(after, CodecRotationProbe, task_queue=task_queue, workflow_runner=runner):
        await after.get_workflow_handle(workflow_id).signal(CodecRotationProbe.add, EMAIL)
        result = await after.get_workflow_handle(workflow_id).result()
    assert result == f"{NAME} + {EMAIL}"

    history = await raw_history(dev_env.client, workflow_id)
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    (signalled,) = [
        e.workflow_execution_signaled_event_attributes.input.payloads[0]
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert started.metadata["encryption-key-id"] == b"k1"
    assert signalled.metadata["encryption-key-id"] == b"k2"
    stored = history.SerializeToString()
    assert NAME.encode() not in stored
    assert EMAIL.encode() not in stored
    # a process that was never given the new key cannot read what was written with it
    with pytest.raises(UnknownPayloadKeyError, match="key id 'k2'"):
        await before.get_workflow_handle(workflow_id).result()
