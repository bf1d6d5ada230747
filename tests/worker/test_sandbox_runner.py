"""The worker's sandbox with civicflow's packages passed through (worker.run.sandbox_runner).

Passing the workflow modules through saves re-executing them for every workflow instance; it
must change nothing a workflow decides. So every recorded history replays with the worker's
own runner, the unguarded change still fails replay, and no workflow module keeps mutable
state that instances sharing the module could leak to each other (replaying every history
leaves the module-level constants as they were).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from tests.histories.test_replay import HERE, HISTORIES, history
from tests.histories.variants import UnguardedChange
from worker.config import load_settings
from worker.run import PASSTHROUGH_PACKAGES, sandbox_runner
from workflows.procedure import ProcedureWorkflow


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_recorded_histories_replay_with_the_workers_runner(path: Path) -> None:
    replayer = Replayer(
        workflows=[ProcedureWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=sandbox_runner(),
    )
    await replayer.replay_workflow(history(path))


async def test_an_unguarded_change_still_fails_replay() -> None:
    replayer = Replayer(
        workflows=[UnguardedChange],
        data_converter=pydantic_data_converter,
        workflow_runner=sandbox_runner(),
    )
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(history(HERE / "baugb-3-2.json"))


def test_passthrough_covers_civicflows_packages_and_can_be_turned_off() -> None:
    runner = sandbox_runner()
    passed = runner.restrictions.passthrough_modules
    assert set(PASSTHROUGH_PACKAGES) == {"workflows", "activities", "definitions"}
    assert set(PASSTHROUGH_PACKAGES) <= passed
    plain = sandbox_runner(passthrough=False)
    assert isinstance(plain, SandboxedWorkflowRunner)
    assert not set(PASSTHROUGH_PACKAGES) & plain.restrictions.passthrough_modules
    assert load_settings().sandbox_passthrough is True
    assert load_settings(sandbox_passthrough=False).sandbox_passthrough is False


def _module_containers() -> dict[str, object]:
    """Every list, dict, set or bytearray held at module level by a workflow module."""
    import workflows.procedure  # noqa: F401  (loads every workflow module)

    found: dict[str, object] = {}
    for name, module in sorted(sys.modules.items()):
        if not name.startswith("workflows.") or name == "workflows.client":
            continue
        for attr, value in vars(module).items():
            if not attr.startswith("__") and isinstance(value, list | dict | set | bytearray):
                found[f"{name}.{attr}"] = value
    return found


async def test_workflow_modules_keep_no_state_between_instances() -> None:
    """Passed through, a module's globals are shared by every workflow instance: containers
    there must be constants (UPPER_CASE names) that running workflows never change."""
    containers = _module_containers()
    assert [name for name in containers if not name.rsplit(".", 1)[1].lstrip("_").isupper()] == []
    before = copy.deepcopy(containers)
    replayer = Replayer(
        workflows=[ProcedureWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=sandbox_runner(),
    )
    for path in HISTORIES:
        await replayer.replay_workflow(history(path))
    assert _module_containers() == before
