"""A time-skipping server of this folder's own (the outreach tests move its clock by days)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.workflows.support import register_search_attributes
from worker.binaries import temporal_test_server


@pytest.fixture(scope="package")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(temporal_test_server()),
    )
    try:
        await register_search_attributes(environment)
        yield environment
    finally:
        await environment.shutdown()
