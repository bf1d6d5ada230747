"""Workflow-test fixtures: a time-skipping server of their own, knowing our search attributes.

The engine tests move the server's clock by months (legal periods) and rely on time skipping
being unlocked; a server shared with other test folders can be left with its clock far ahead
or with time skipping held by someone else's workflow. So this folder gets its own server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.workflows.support import register_search_attributes
from worker.binaries import temporal_test_server


@pytest.fixture(scope="package")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server for the engine tests, with civicflow's search attributes.

    The time-skipping server, like a real cluster, refuses to upsert undeclared attributes;
    the dev server gets them at start (tests/conftest.py), this one through the operator API.
    """
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
    )
    try:
        await register_search_attributes(environment)
        yield environment
    finally:
        await environment.shutdown()
