"""The workflow's fast id function gives exactly the ids of `activities.records.stable_id`.

Statement ids and event ids are idempotency keys in storage: an id computed differently by
the workflow would store a statement twice. `sandbox_stable_id` exists only because uuid5
imports hashlib on every call, which the workflow sandbox makes slow.
"""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from activities.records import stable_id
from workflows.engine import sandbox_stable_id


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_same_ids_as_records_stable_id(parts: list[str]) -> None:
    assert sandbox_stable_id(*parts) == stable_id(*parts)


def test_a_known_statement_id() -> None:
    parts = ("procedure-08221000-b-plan-12", "statement", "portal-4711")
    got = sandbox_stable_id(*parts)
    assert got == stable_id(*parts)
    assert uuid.UUID(got).version == 5
