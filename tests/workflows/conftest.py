"""Workflow-test fixtures: the session's time-skipping server knows our search attributes."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.workflows.support import register_search_attributes

_REGISTERED: set[int] = set()


@pytest.fixture
async def env(env: WorkflowEnvironment) -> WorkflowEnvironment:
    """The shared `env`, with civicflow's search attributes registered once.

    The time-skipping server, like a real cluster, refuses to upsert undeclared attributes;
    the dev server gets them at start (tests/conftest.py), this one through the operator API.
    """
    if id(env) not in _REGISTERED:
        await register_search_attributes(env)
        _REGISTERED.add(id(env))
    return env
