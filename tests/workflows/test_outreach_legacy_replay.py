"""Runs recorded before `OutreachState` replay against the current engine.

`outreach_legacy/` holds the three runs of one Bürgerrat recorded with the engine that kept
outreach in generic counters (`record.py` says how): runs 2 and 3 start from a carried state
in that old shape (`profile:...` counters, `profile`/`outreach` key lists), run 3 draws the
second wave and ends (cancelled) without purging, as engines before
`purge-outreach-addresses-at-end` did. Each must replay unchanged: the old state loads into
the typed part, the new handlers add no command, the purge is not taken on replay.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.selection.activity import DRAW_OUTREACH_WAVE, PURGE_OUTREACH_ADDRESSES
from workflows.messages import procedure_workflow_id
from workflows.procedure import ProcedureWorkflow
from workflows.state import ProcedureState

HERE = Path(__file__).resolve().parent / "outreach_legacy"
RUNS = sorted(HERE.glob("buergerrat-run*.json"))
WORKFLOW_ID = procedure_workflow_id("08221000", "outreach legacy")


def events(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["events"])


def carried_input(path: Path) -> dict[str, Any] | None:
    """The continue-as-new input (the carried state) a run started with, if any."""
    started = events(path)[0]["workflowExecutionStartedEventAttributes"]
    payloads = started["input"]["payloads"]
    if len(payloads) < 2:
        return None
    value = json.loads(base64.b64decode(payloads[1]["data"]))
    return value if isinstance(value, dict) else None


def activities(path: Path) -> list[str]:
    return [
        e["activityTaskScheduledEventAttributes"]["activityType"]["name"]
        for e in events(path)
        if "activityTaskScheduledEventAttributes" in e
    ]


def test_the_recorded_runs_carry_the_old_shape() -> None:
    assert [p.stem for p in RUNS] == [f"buergerrat-run{n}" for n in (1, 2, 3)]
    assert carried_input(RUNS[0]) is None
    for path in RUNS[1:]:
        state = carried_input(path)
        assert state is not None
        assert "outreach" not in state
        assert any(k.startswith("profile:") for k in state["counts"])
        assert "profile" in state["handled_keys"]
        loaded = ProcedureState.model_validate(state)
        assert loaded.outreach.profiles == state["counts"]["profiles"]
        assert not any(k.startswith("profile") for k in loaded.counts)
    assert DRAW_OUTREACH_WAVE in activities(RUNS[-1])
    assert PURGE_OUTREACH_ADDRESSES not in activities(RUNS[-1])


def history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(WORKFLOW_ID, path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
async def test_replays(path: Path) -> None:
    replayer = Replayer(workflows=[ProcedureWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history(path))
