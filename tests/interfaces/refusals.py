"""Send one update through every integrator path and check they refuse it the same way.

The SDK (an `ApplicationError` cause), the real `temporal` CLI binary (exit 1, the message
and `(type: CODE, retryable: false)` on stderr) and Temporal's HTTP API (HTTP 200 with
`outcome.failure`) must all carry the same stable code and the same message, as
docs/errors.md promises. Each path sends its own update; a refused update never enters the
history, so sending it three times changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.interfaces.conftest import Stack
from worker.binaries import temporal_cli
from workflows.errors import Code

__all__ = ["refused_everywhere"]


async def _sdk(handle: WorkflowHandle[Any, Any], name: str, payload: Any, code: Code) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(name, payload)
    cause = caught.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.type == code, cause.message
    assert cause.non_retryable
    return cause.message


async def _cli(stack: Stack, wf_id: str, name: str, payload: Any, code: Code) -> str:
    argv = [
        str(temporal_cli()),
        "workflow",
        "update",
        "execute",
        "--address",
        stack.address,
        "--workflow-id",
        wf_id,
        "--name",
        name,
        "--input",
        json.dumps(payload),
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err_bytes = await asyncio.wait_for(proc.communicate(), timeout=60)
    err = err_bytes.decode()
    assert proc.returncode == 1, err
    suffix = f" (type: {code}, retryable: false)"
    assert suffix in err, err
    head = err.split("unable to update workflow: ", 1)[1]
    return head.split(suffix, 1)[0]


async def _http(stack: Stack, wf_id: str, name: str, payload: Any, code: Code) -> str:
    url = f"{stack.http}/api/v1/namespaces/default/workflows/{wf_id}/update/{name}"
    body = {
        "waitPolicy": {"lifecycleStage": "UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED"},
        "request": {"meta": {"updateId": uuid.uuid4().hex}, "input": {"args": [payload]}},
    }
    async with httpx.AsyncClient(timeout=60) as http:
        answer = await http.post(url, json=body)
    assert answer.status_code == 200, answer.text
    failure = answer.json()["outcome"]["failure"]
    assert failure["applicationFailureInfo"]["type"] == code, failure
    assert failure["applicationFailureInfo"].get("nonRetryable") is True, failure
    message: str = failure["message"]
    return message


async def refused_everywhere(
    stack: Stack, handle: WorkflowHandle[Any, Any], name: str, payload: Any, code: Code
) -> str:
    """The message all three paths returned for update `name` (asserted identical)."""
    sdk = await _sdk(handle, name, payload, code)
    cli = await _cli(stack, handle.id, name, payload, code)
    http = await _http(stack, handle.id, name, payload, code)
    assert sdk == cli == http, (sdk, cli, http)
    assert sdk.startswith(f"{code}: "), sdk
    return sdk
