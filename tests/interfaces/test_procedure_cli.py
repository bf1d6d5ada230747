"""`civicflow procedure` and `civicflow webhooks` against the real dev server and database."""

from __future__ import annotations

import asyncio
import json
import shlex
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tests.helpers import assert_eq_eventually, free_port
from tests.interfaces import support
from tests.interfaces.conftest import Stack
from tests.interfaces.docs import EXAMPLES, example
from worker.cli import app
from worker.commands.procedure import EXIT_CONFIG, EXIT_EXISTS, EXIT_NOT_FOUND, EXIT_REFUSED

pytestmark = pytest.mark.integration


async def civicflow(stack: Stack, *args: str, connect: bool = True) -> Result:
    """Run the command in a thread (it runs its own event loop, as from a shell)."""
    extra = ["--address", stack.address, "--task-queue", stack.task_queue] if connect else []
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, app, [*args, *extra])


async def ok(stack: Stack, *args: str) -> Any:
    result = await civicflow(stack, *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def test_start_steer_and_read(stack: Stack, tmp_path: Path) -> None:
    data = json.loads((EXAMPLES / "baugb-3-2.json").read_text(encoding="utf-8"))
    data["reference"] = "B-Plan CLI 1"
    start_file = tmp_path / "start.json"
    start_file.write_text(json.dumps(data), encoding="utf-8")
    started = await ok(stack, "procedure", "start", str(start_file))
    wf_id = started["workflow_id"]
    assert wf_id == "procedure-08221000-b-plan-cli-1"
    again = await civicflow(stack, "procedure", "start", str(start_file))
    assert again.exit_code == EXIT_EXISTS
    assert "already running" in again.stderr

    handle = stack.client.get_workflow_handle(wf_id)
    await support.wait_phase(handle, "announcement")
    assert await (await handle.describe()).static_summary() == data["title"]
    status = await ok(stack, "procedure", "status", wf_id, "--json")
    assert status["phase_id"] == "announcement"

    async def listed() -> bool:
        rows = await ok(
            stack, "procedure", "list", "--kind", "bauleitplanung", "--phase", "announcement"
        )
        return wf_id in {r["workflow_id"] for r in rows}

    await assert_eq_eventually(True, listed, timeout=support.WAIT)

    receipt = await ok(stack, "procedure", "advance", wf_id, "--reason", "bekannt gemacht")
    assert receipt["phase_id"] == "announcement"
    await support.wait_phase(handle, "hearing", after_visits=1)

    statement = tmp_path / "statement.json"
    item = {"idempotency_key": "cli-1", "role": "public", "statement_type": "objection"}
    statement.write_text(json.dumps({**item, "text": "Bitte Bäume erhalten."}), "utf-8")
    receipt = await ok(stack, "procedure", "submit", wf_id, "--statement", str(statement))
    assert (receipt["phase_id"], receipt["late"]) == ("hearing", False)
    replay = await civicflow(stack, "procedure", "submit", wf_id, "--statement", str(statement))
    assert replay.exit_code == EXIT_REFUSED
    assert "rejected: DUPLICATE_IDEMPOTENCY_KEY: idempotency_key 'cli-1'" in replay.stderr

    ends = (await support.status(handle)).phase_ends
    assert ends is not None
    new_end = (ends + timedelta(days=14)).isoformat()
    await ok(stack, "procedure", "extend", wf_id, "--new-end", new_end, "--reason", "Ferien")
    assert (await support.status(handle)).phase_ends == ends + timedelta(days=14)

    await ok(stack, "procedure", "pause", wf_id, "--reason", "Gericht")
    paused = await civicflow(stack, "procedure", "advance", wf_id, "--reason", "x")
    assert paused.exit_code == EXIT_REFUSED
    assert "paused" in paused.stderr
    await ok(stack, "procedure", "resume", wf_id, "--reason", "weiter")
    timeline = await ok(stack, "procedure", "timeline", wf_id)
    types = [e["type"] for e in timeline]
    assert types[0] == "procedure.started"
    assert {"procedure.advance", "deadline.extended", "procedure.pause"} <= set(types)
    await ok(stack, "procedure", "cancel", wf_id, "--reason", "Verfahren eingestellt")
    result = await handle.result()
    assert result["state"] == "cancelled"


async def test_start_from_options(stack: Stack) -> None:
    started = await ok(
        stack,
        "procedure",
        "start",
        "--definition",
        "baugb-3-1",
        "--reference",
        "B-Plan CLI 2",
        "--title",
        "Frühzeitige Beteiligung",
        "--municipality",
        "08221000",
        "--land",
        "BW",
        "--param",
        "participation_period=P2M",
    )
    handle = stack.client.get_workflow_handle(started["workflow_id"])
    await support.wait_phase(handle, "announcement")
    await support.cancel(handle)


async def test_errors_and_exit_codes(stack: Stack, tmp_path: Path) -> None:
    malformed = tmp_path / "bad.json"
    malformed.write_text('{"definition_id": ', encoding="utf-8")
    result = await civicflow(stack, "procedure", "start", str(malformed))
    assert result.exit_code == EXIT_REFUSED
    assert "invalid JSON" in result.stderr

    unknown = tmp_path / "unknown.json"
    data = json.loads((EXAMPLES / "baugb-3-2.json").read_text(encoding="utf-8"))
    unknown.write_text(json.dumps({**data, "colour": "red"}), encoding="utf-8")
    result = await civicflow(stack, "procedure", "start", str(unknown))
    assert result.exit_code == EXIT_REFUSED
    assert "colour: Extra inputs are not permitted" in result.stderr

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({**data, "municipality": 8221000}), encoding="utf-8")
    result = await civicflow(stack, "procedure", "start", str(wrong))
    assert result.exit_code == EXIT_REFUSED
    assert "municipality" in result.stderr

    result = await civicflow(stack, "procedure", "status", "procedure-00000000-none")
    assert result.exit_code == EXIT_NOT_FOUND

    result = await civicflow(
        stack, "procedure", "extend", "x", "--new-end", "soon", "--reason", "r"
    )
    assert result.exit_code == EXIT_REFUSED

    result = await civicflow(
        stack,
        "procedure",
        "status",
        "x",
        "--address",
        f"127.0.0.1:{free_port()}",
        connect=False,
    )
    assert result.exit_code == EXIT_CONFIG
    assert "cannot connect to Temporal" in result.stderr


async def test_readme_webhooks_add_list_remove(stack: Stack) -> None:
    db = ["--database-url", stack.settings.database_url]
    db += ["--database-schema", stack.settings.database_schema]
    lines = example("webhooks").replace("\\\n", " ").splitlines()
    add, listing, remove = (shlex.split(line) for line in lines)
    assert add[:3] == [*listing[:2], "add"] == ["civicflow", "webhooks", "add"]
    result = await civicflow(stack, *add[1:], *db, connect=False)
    assert result.exit_code == 0, result.output
    listed = await civicflow(stack, *listing[1:], *db, connect=False)
    assert "portal  active  https://portal.example.org/civicflow/events" in listed.stdout
    assert "kind=baugb-3-2  municipality=08221000  types=de.civicflow.statement.*" in listed.stdout
    removed = await civicflow(stack, *remove[1:], *db, connect=False)
    assert removed.exit_code == 0, removed.output
    listed = await civicflow(stack, *listing[1:], *db, connect=False)
    assert "portal  inactive" in listed.stdout
    missing = await civicflow(stack, "webhooks", "remove", "nobody", *db, connect=False)
    assert missing.exit_code == 1
