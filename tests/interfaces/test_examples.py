"""Every `definitions/examples/*.json` starts a real procedure, and the README lists it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.helpers import assert_eq_eventually
from tests.interfaces import support
from tests.interfaces.conftest import Stack
from tests.interfaces.docs import README, example, start_examples
from tests.workflows.support import catalogue_ids
from workflows import messages as m

pytestmark = pytest.mark.integration


def test_one_example_per_catalogue_definition() -> None:
    examples = start_examples()
    assert sorted(examples) == catalogue_ids()
    for definition_id, data in examples.items():
        assert data["definition_id"] == definition_id
        m.StartProcedure.model_validate(data)


def test_readme_lists_every_example_with_its_workflow_id() -> None:
    text = README.read_text(encoding="utf-8")
    for definition_id, data in start_examples().items():
        wf_id = m.procedure_workflow_id(data["municipality"], data["reference"])
        row = f"| `{definition_id}` | `definitions/examples/{definition_id}.json` | `{wf_id}` |"
        assert row in text, row


async def _start_and_check(stack: Stack, data: dict[str, Any]) -> str:
    handle = await support.start(stack.client, stack.task_queue, data, summary=data["title"])

    async def entered() -> bool:
        st = await support.status(handle)
        return st.state == "running" and st.phase_id is not None

    await assert_eq_eventually(True, entered, timeout=support.WAIT)
    st = await support.status(handle)
    assert st.definition_id == data["definition_id"]
    described = await handle.describe()
    assert await described.static_summary() == data["title"]
    return handle.id


async def test_every_example_starts_a_running_procedure(stack: Stack) -> None:
    examples = start_examples()
    ids = await asyncio.gather(*(_start_and_check(stack, d) for d in examples.values()))
    assert len(set(ids)) == len(examples)
    # The administrator's visibility query from the README finds the land-use procedures.
    query = example("visibility-query").strip()

    async def found() -> set[str]:
        return {wf.id async for wf in stack.client.list_workflows(query)}

    expected = {
        m.procedure_workflow_id(d["municipality"], d["reference"])
        for d in examples.values()
        if d["definition_id"] in ("baugb-3-1", "baugb-3-2")  # baugb-4-2 starts with "request"
    }

    async def subset() -> bool:
        return expected <= await found()

    await assert_eq_eventually(True, subset, timeout=support.WAIT)
    for wf_id in ids:
        await support.cancel(stack.client.get_workflow_handle(wf_id))
