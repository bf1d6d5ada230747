"""The README's `temporal` CLI examples, run with the real binary against a real dev server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import assert_eq_eventually
from tests.interfaces import support
from tests.interfaces.conftest import Stack
from tests.interfaces.docs import temporal_argv
from worker.binaries import temporal_cli

pytestmark = pytest.mark.integration


async def run(argv: list[str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run_json(argv: list[str]) -> Any:
    code, out, err = await run(argv)
    assert code == 0, err
    return json.loads(out)


async def test_readme_walkthrough(stack: Stack) -> None:
    started = await run_json(temporal_argv("cli-start", stack))
    assert started["workflowId"] == "procedure-08221000-b-plan-14-1"
    assert started["type"] == "Procedure"
    handle = stack.client.get_workflow_handle(started["workflowId"])
    await support.wait_phase(handle, "announcement")
    assert await (await handle.describe()).static_summary() == "Bebauungsplan Kirchheimer Weg"

    advanced = await run_json(temporal_argv("cli-advance", stack))
    assert advanced["result"]["phase_id"] == "announcement"
    assert advanced["result"]["idempotency_key"] == "advance-1"
    await support.wait_phase(handle, "hearing", after_visits=1)

    receipt = (await run_json(temporal_argv("cli-update", stack)))["result"]
    assert receipt["phase_id"] == "hearing"
    assert receipt["idempotency_key"] == "portal-4711"
    assert receipt["late"] is False
    assert len(receipt["sha256"]) == 64

    code, _, err = await run(temporal_argv("cli-signal", stack))
    assert code == 0, err

    query = temporal_argv("cli-query", stack)

    async def statements() -> int:
        result = (await run_json(query))["queryResult"][0]
        assert result["phase_id"] == "hearing"
        count: int = result["counts"].get("statements", 0)
        return count

    await assert_eq_eventually(2, statements, timeout=support.WAIT)
    # the same update again: refused by its idempotency key, nothing changes
    code, _, err = await run(temporal_argv("cli-update", stack))
    assert code == 1
    assert (
        "DUPLICATE_IDEMPOTENCY_KEY: idempotency_key 'portal-4711': "
        "a statement with this key was already received"
    ) in err
    assert await statements() == 2
    await support.cancel(handle)


def _update(stack: Stack, wf_id: str, name: str, *payload: str) -> list[str]:
    return [
        str(temporal_cli()),
        "workflow",
        "update",
        "execute",
        "--address",
        stack.address,
        "-o",
        "json",
        "--workflow-id",
        wf_id,
        "--name",
        name,
        *payload,
    ]


STATEMENT = {"idempotency_key": "k", "role": "public", "statement_type": "objection", "text": "x"}


async def test_bad_input_is_refused_and_the_procedure_keeps_running(
    stack: Stack, tmp_path: Path
) -> None:
    handle = await support.start(stack.client, stack.task_queue, support.fresh())
    await support.wait_phase(handle, "announcement")
    wf = handle.id
    cases: list[tuple[list[str], str]] = [
        (["--input", "{not json"], "is not valid JSON"),
        (
            ["--input", json.dumps({**STATEMENT, "text": 5})],
            "INVALID_PAYLOAD: StatementInput: text: Input should be a valid string",
        ),
        (
            ["--input", json.dumps({**STATEMENT, "colour": "red"})],
            "UNKNOWN_FIELD: StatementInput: colour: Extra inputs are not permitted",
        ),
        (
            ["--input", json.dumps(STATEMENT)],
            "PHASE_DOES_NOT_ACCEPT: "
            "phase 'announcement' (invitation) does not accept statements yet",
        ),
    ]
    for payload, message in cases:
        code, _, err = await run(_update(stack, wf, "submit_statement", *payload))
        assert code == 1, (payload, err)
        assert message in err, (payload, err)
        if ": " in message:  # refused by the validator: its code as the failure type
            code_ = message.split(":", 1)[0]
            assert f"type: {code_}, retryable: false" in err, (payload, err)

    code, _, err = await run(
        _update(
            stack,
            "procedure-00000000-nothing",
            "submit_statement",
            "--input",
            json.dumps(STATEMENT),
        )
    )
    assert code == 1
    assert "not found" in err

    big = tmp_path / "big.json"
    big.write_text(json.dumps({**STATEMENT, "text": "x" * 5_000_000}), encoding="utf-8")
    code, _, err = await run(_update(stack, wf, "submit_statement", "--input-file", str(big)))
    assert code == 1
    assert "larger than max" in err  # the server's gRPC limit, before the procedure sees it

    assert (await support.status(handle)).state == "running"
    await support.advance(handle, "hearing")
    accepted = await run_json(
        _update(stack, wf, "submit_statement", "--input", json.dumps(STATEMENT))
    )
    assert accepted["result"]["phase_id"] == "hearing"
    await support.cancel(handle)
