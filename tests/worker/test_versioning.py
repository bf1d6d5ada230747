"""Worker Versioning: a worker started with a build id polls as that version of its deployment.

Checked on the dev server with the `temporal` CLI commands deploy/RUNBOOK.md gives operators:
the version shows up with the worker's task queue, becomes current, and a procedure started
afterwards runs on it with the configured behaviour.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import VersioningBehavior as ApiBehavior
from temporalio.common import VersioningBehavior
from temporalio.testing import WorkflowEnvironment

from tests.helpers import assert_eq_eventually
from worker.binaries import temporal_cli
from worker.config import ConfigError, load_settings
from worker.run import deployment_config, run_until_stopped, worker_services
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow

pytestmark = pytest.mark.integration


def test_no_build_id_means_an_unversioned_worker() -> None:
    assert deployment_config(load_settings()) is None


def test_build_id_deployment_and_behaviour_reach_the_sdk_config() -> None:
    config = deployment_config(
        load_settings(build_id="0.2.0", deployment_name="heidelberg", versioning_behavior="pinned")
    )
    assert config is not None
    assert config.use_worker_versioning
    assert (config.version.deployment_name, config.version.build_id) == ("heidelberg", "0.2.0")
    assert config.default_versioning_behavior == VersioningBehavior.PINNED
    default = deployment_config(load_settings(build_id="0.2.0"))
    assert default is not None
    assert default.version.deployment_name == "civicflow"
    assert default.default_versioning_behavior == VersioningBehavior.AUTO_UPGRADE


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"build_id": "0.2 beta"}, "build_id (CIVICFLOW_BUILD_ID)"),
        ({"deployment_name": "civic.flow"}, "deployment_name (CIVICFLOW_DEPLOYMENT_NAME)"),
        (
            {"versioning_behavior": "sometimes"},
            "versioning_behavior (CIVICFLOW_VERSIONING_BEHAVIOR)",
        ),
    ],
)
def test_bad_versioning_settings_name_the_setting(given: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match="^invalid configuration: " + re.escape(named)):
        load_settings(**given)


def _cli(address: str, *args: str) -> Any:
    """Run a `temporal` CLI command against the dev server; its JSON output."""
    done = subprocess.run(
        [str(temporal_cli()), *args, "--address", address, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


async def test_worker_with_build_id_reports_its_version(
    dev_env: WorkflowEnvironment, database_url: str, db_schema: str
) -> None:
    address = dev_env.client.service_client.config.target_host
    deployment = f"civicflow-{uuid.uuid4().hex[:8]}"
    queue = f"versioned-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        temporal_address=address,
        task_queue=queue,
        database_url=database_url,
        database_schema=db_schema,
        metrics_port=0,
        phase_gauge_seconds=0,
        build_id="0.2.0",
        deployment_name=deployment,
    )
    async with worker_services(settings) as services:
        stop = asyncio.Event()
        running = asyncio.create_task(run_until_stopped(services.worker, stop, services.background))
        handle = None
        try:
            # the server learns the version from the worker's polls
            async def task_queues() -> list[tuple[str, str]]:
                try:
                    found = await asyncio.to_thread(
                        _cli,
                        address,
                        "worker",
                        "deployment",
                        "describe-version",
                        "--deployment-name",
                        deployment,
                        "--build-id",
                        "0.2.0",
                    )
                except AssertionError:  # not known yet
                    return []
                return sorted((q["name"], q["type"]) for q in found.get("taskQueuesInfos") or [])

            await assert_eq_eventually(
                [(queue, "activity"), (queue, "workflow")],
                task_queues,
                timeout=timedelta(seconds=30),
            )
            await asyncio.to_thread(
                _cli,
                address,
                "worker",
                "deployment",
                "set-current-version",
                "--deployment-name",
                deployment,
                "--build-id",
                "0.2.0",
                "--yes",
            )
            described = await asyncio.to_thread(
                _cli, address, "worker", "deployment", "describe", "--name", deployment
            )
            assert described["routingConfig"]["currentVersionBuildID"] == "0.2.0"

            reference = f"versioned-{queue}"
            handle = await dev_env.client.start_workflow(
                ProcedureWorkflow.run,
                {
                    "definition_id": "baugb-3-2",
                    "reference": reference,
                    "title": "Bebauungsplan Mühlweg-Süd",
                    "municipality": "08221000",
                    "land": "BW",
                    "announcement_date": (
                        datetime.now(UTC).date() - timedelta(days=10)
                    ).isoformat(),
                },
                id=m.procedure_workflow_id("08221000", reference),
                task_queue=queue,
            )

            async def runs_on() -> tuple[str, int]:
                info = (await handle.describe()).raw_description.workflow_execution_info
                versioning = info.versioning_info
                return versioning.deployment_version.build_id, int(versioning.behavior)

            await assert_eq_eventually(
                ("0.2.0", int(ApiBehavior.VERSIONING_BEHAVIOR_AUTO_UPGRADE)),
                runs_on,
                timeout=timedelta(seconds=30),
            )
            status = await handle.query(ProcedureWorkflow.status)
            assert status.procedure_id == handle.id
        finally:
            if handle is not None:
                await handle.terminate("test over")
            stop.set()
            await running
