"""deploy/temporal/setup-namespace.sh and the runbook register exactly civicflow's search
attributes; the script works (and is idempotent) against a real Temporal dev server."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from tests.deploy.files import DEPLOY
from worker.binaries import temporal_cli
from workflows.visibility import ALL_SEARCH_ATTRIBUTES

SCRIPT = DEPLOY / "temporal" / "setup-namespace.sh"
EXPECTED = {key.name: key.indexed_value_type.name.capitalize() for key in ALL_SEARCH_ATTRIBUTES}


def test_script_creates_exactly_the_workflows_search_attributes() -> None:
    declared: dict[str, str] = {}
    for line in SCRIPT.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^create (\w+) (.+)$", line.strip())
        if match:
            declared.update(dict.fromkeys(match.group(2).split(), match.group(1)))
    assert declared == EXPECTED


def test_runbook_creates_exactly_the_workflows_search_attributes() -> None:
    runbook = (DEPLOY / "RUNBOOK.md").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", runbook)
    declared: dict[str, str] = {}
    for line in joined.splitlines():
        if "temporal operator search-attribute create" in line:
            kind = re.search(r"--type (\w+)", line)
            assert kind is not None, line
            declared.update(dict.fromkeys(re.findall(r"--name (\w+)", line), kind.group(1)))
    assert declared == EXPECTED


async def run_script(address: str, namespace: str) -> tuple[int, str]:
    env = {
        **os.environ,
        "PATH": f"{Path(temporal_cli()).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "TEMPORAL_ADDRESS": address,
        "CIVICFLOW_TEMPORAL_NAMESPACE": namespace,
        "NAMESPACE_RETENTION": "24h",
    }
    process = await asyncio.create_subprocess_exec(
        "sh",
        str(SCRIPT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, output.decode()


@pytest.mark.integration
async def test_setup_namespace_registers_namespace_and_attributes_idempotently(
    dev_env: WorkflowEnvironment,
) -> None:
    address = dev_env.client.service_client.config.target_host
    namespace = f"civicflow-deploy-{uuid.uuid4().hex[:8]}"

    code, output = await run_script(address, namespace)
    assert code == 0, output
    listed = await dev_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    registered = {
        name: IndexedValueType.Name(kind).removeprefix("INDEXED_VALUE_TYPE_").capitalize()
        for name, kind in listed.custom_attributes.items()
    }
    assert EXPECTED.items() <= registered.items()

    code, output = await run_script(address, namespace)
    assert code == 0, output
    assert output.count(" exists") == len(EXPECTED)
