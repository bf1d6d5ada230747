"""Recorded histories of every catalogue definition replay against the current code.

A change to workflow logic that would break a running procedure fails here. The two
variants in `variants.py` show both sides: an unguarded change (a timer the histories do not have)
raises NondeterminismError; the same change behind `workflow.patched` replays cleanly,
because old histories carry no patch marker and take the old path.
Record new histories with `.venv/bin/python -m tests.histories.record`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.histories.variants import PatchedChange, UnguardedChange
from workflows.messages import procedure_workflow_id
from workflows.procedure import ProcedureWorkflow

HERE = Path(__file__).resolve().parent
HISTORIES = sorted(HERE.glob("*.json"))


def history(path: Path) -> WorkflowHistory:
    wf_id = procedure_workflow_id("08221000", f"history {path.stem}")
    return WorkflowHistory.from_json(wf_id, path.read_text(encoding="utf-8"))


def test_every_catalogue_definition_has_a_history() -> None:
    from tests.workflows.support import catalogue_ids

    assert {p.stem.split(".")[0] for p in HISTORIES} >= set(catalogue_ids())


def test_both_sides_of_the_admin_patch_are_recorded() -> None:
    """Histories from before `admin-event-before-wake` and one after it (with its marker)."""
    from workflows.admin import PATCH_EVENT_BEFORE_WAKE

    marked = {p.stem for p in HISTORIES if PATCH_EVENT_BEFORE_WAKE in patches(p)}
    assert "baugb-4-2.patched" in marked
    assert {p.stem for p in HISTORIES} - marked, "no history from before the patch is left"


# Patches added after the first generation of histories; the `.s2` and `.s3` generations
# recorded them, so their new paths replay too (the older files keep covering the unpatched
# paths).
LATER_PATCHES = [
    "check-bound-parameters",
    "commitment-due-event",
    "drain-intake-received-so-far",
    "invitation-outreach",
    "start-in-one-write",  # the `.s3` generation
]


@pytest.mark.parametrize("patch_id", LATER_PATCHES)
def test_both_sides_of_later_patches_are_recorded(patch_id: str) -> None:
    marked = [p.stem for p in HISTORIES if patch_id in patches(p)]
    assert marked, f"no recorded history takes the {patch_id} path"
    assert len(marked) < len(HISTORIES), f"no recorded history predates {patch_id}"


def patches(path: Path) -> set[str]:
    """Patch ids recorded in a history's `core_patch` markers."""
    found = set()
    for event in json.loads(path.read_text(encoding="utf-8"))["events"]:
        marker = event.get("markerRecordedEventAttributes", {})
        if marker.get("markerName") != "core_patch":
            continue
        for payload in marker["details"]["patch-data"]["payloads"]:
            found.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return found


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_replays(path: Path) -> None:
    replayer = Replayer(workflows=[ProcedureWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history(path))


async def test_unguarded_change_is_nondeterministic() -> None:
    replayer = Replayer(workflows=[UnguardedChange], data_converter=pydantic_data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history(HERE / "baugb-3-2.json"))


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_patched_change_replays(path: Path) -> None:
    replayer = Replayer(workflows=[PatchedChange], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history(path))
