"""The README's HTTP API examples, sent with httpx to a real dev server's HTTP port."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.helpers import assert_eq_eventually
from tests.interfaces import support
from tests.interfaces.conftest import Stack
from tests.interfaces.docs import http_request
from workflows.errors import Code

pytestmark = pytest.mark.integration

STATEMENT = {"idempotency_key": "k", "role": "public", "statement_type": "objection", "text": "x"}


async def send(http: httpx.AsyncClient, name: str, stack: Stack) -> httpx.Response:
    request = http_request(name, stack)
    return await http.request(request.method, request.url, json=request.body)


def update_body(payload: Any, update_id: str | None = None) -> dict[str, Any]:
    return {
        "waitPolicy": {"lifecycleStage": "UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED"},
        "request": {
            "meta": {"updateId": update_id or uuid.uuid4().hex},
            "input": {"args": [payload]},
        },
    }


async def test_readme_walkthrough(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        started = await send(http, "http-start", stack)
        assert started.status_code == 200, started.text
        assert started.json()["started"] is True
        handle = stack.client.get_workflow_handle("procedure-08221000-b-plan-15-2")
        await support.wait_phase(handle, "announcement")
        summary = await (await handle.describe()).static_summary()
        assert summary == "Bebauungsplan Gewerbegebiet Pfaffengrund"

        advanced = await send(http, "http-advance", stack)
        assert advanced.status_code == 200, advanced.text
        assert advanced.json()["outcome"]["success"][0]["phase_id"] == "announcement"
        await support.wait_phase(handle, "hearing", after_visits=1)

        updated = await send(http, "http-update", stack)
        assert updated.status_code == 200, updated.text
        receipt = updated.json()["outcome"]["success"][0]
        assert receipt["phase_id"] == "hearing"
        assert receipt["idempotency_key"] == "portal-4712"
        assert receipt["late"] is False

        signalled = await send(http, "http-signal", stack)
        assert signalled.status_code == 200, signalled.text

        async def statements() -> int:
            answer = await send(http, "http-query", stack)
            assert answer.status_code == 200, answer.text
            count: int = answer.json()["queryResult"][0]["counts"].get("statements", 0)
            return count

        await assert_eq_eventually(2, statements, timeout=support.WAIT)
    await support.cancel(handle)


async def test_bad_input_is_refused_and_the_procedure_keeps_running(stack: Stack) -> None:
    handle = await support.start(stack.client, stack.task_queue, support.fresh())
    await support.wait_phase(handle, "announcement")
    base = f"{stack.http}/api/v1/namespaces/default/workflows/{handle.id}"
    async with httpx.AsyncClient(timeout=60) as http:
        malformed = await http.post(
            f"{base}/update/submit_statement",
            content=b'{"request": {not json',
            headers={"Content-Type": "application/json"},
        )
        assert malformed.status_code == 400
        assert malformed.json()["code"] == 3  # INVALID_ARGUMENT

        async def refused(payload: Any, code: Code) -> str:
            answer = await http.post(f"{base}/update/submit_statement", json=update_body(payload))
            assert answer.status_code == 200, answer.text
            failure = answer.json()["outcome"]["failure"]
            info = failure["applicationFailureInfo"]
            assert info["type"] == code, failure
            assert info.get("nonRetryable") is True, failure
            message: str = failure["message"]
            return message

        wrong_type = await refused({**STATEMENT, "text": 5}, Code.INVALID_PAYLOAD)
        assert wrong_type == "INVALID_PAYLOAD: StatementInput: text: Input should be a valid string"
        unknown = await refused({**STATEMENT, "colour": "red"}, Code.UNKNOWN_FIELD)
        assert unknown == "UNKNOWN_FIELD: StatementInput: colour: Extra inputs are not permitted"
        not_an_object = await refused("a statement", Code.INVALID_PAYLOAD)
        assert not_an_object.startswith("INVALID_PAYLOAD: StatementInput: input: Input should be")
        phase = await refused(STATEMENT, Code.PHASE_DOES_NOT_ACCEPT)
        assert phase == (
            "PHASE_DOES_NOT_ACCEPT: "
            "phase 'announcement' (invitation) does not accept statements yet"
        )

        missing = await http.post(
            f"{stack.http}/api/v1/namespaces/default/workflows/procedure-00000000-none/update/x",
            json=update_body(STATEMENT),
        )
        assert missing.status_code == 404
        assert "workflow not found" in missing.json()["message"]

        big = await http.post(
            f"{base}/update/submit_statement",
            json=update_body({**STATEMENT, "text": "x" * 5_000_000}),
        )
        assert big.status_code >= 400, big.text[:300]

        assert (await support.status(handle)).state == "running"
        await support.advance(handle, "hearing")
        first = await http.post(f"{base}/update/submit_statement", json=update_body(STATEMENT))
        assert first.json()["outcome"]["success"][0]["phase_id"] == "hearing"
        replay = await refused(STATEMENT, Code.DUPLICATE_IDEMPOTENCY_KEY)
        assert replay == (
            "DUPLICATE_IDEMPOTENCY_KEY: "
            "idempotency_key 'k': a statement with this key was already received"
        )
        # a retry with the same update id returns the first outcome, not a second statement
        other = {**STATEMENT, "idempotency_key": "k2"}
        body = update_body(other, "fixed-id")
        once = await http.post(f"{base}/update/submit_statement", json=body)
        twice = await http.post(f"{base}/update/submit_statement", json=body)
        assert once.json()["outcome"] == twice.json()["outcome"]
        assert "success" in twice.json()["outcome"]
        status = await http.post(f"{base}/query/status", json={})
        assert status.json()["queryResult"][0]["state"] == "running"
        assert json.dumps(status.json())  # plain JSON all the way
    await support.cancel(handle)
