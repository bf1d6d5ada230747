"""Workflow-test fixtures: the session's time-skipping server knows our search attributes."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.testing import WorkflowEnvironment

from workflows.visibility import ALL_SEARCH_ATTRIBUTES

_REGISTERED: set[int] = set()


@pytest.fixture
async def env(env: WorkflowEnvironment) -> WorkflowEnvironment:
    """The shared `env`, with civicflow's search attributes registered once.

    The time-skipping server, like a real cluster, refuses to upsert undeclared attributes;
    the dev server gets them at start (tests/conftest.py), this one through the operator API.
    """
    if id(env) not in _REGISTERED:
        kinds = {
            SearchAttributeIndexedValueType.KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
            SearchAttributeIndexedValueType.DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
        }
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    key.name: kinds[key.indexed_value_type] for key in ALL_SEARCH_ATTRIBUTES
                },
            )
        )
        _REGISTERED.add(id(env))
    return env
