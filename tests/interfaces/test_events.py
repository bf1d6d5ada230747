"""docs/events.md: every catalogue type documented with an example that matches reality.

The examples must validate against the committed envelope schema, and for the types a short
real procedure sends (through the real worker, storage and outbox), the documented `data`
fields must be exactly the fields the outbox holds for the subscribed webhook.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import jsonschema
import pytest

from activities.notify.events import EVENT_TYPES, CloudEvent
from activities.storage.subscriptions import Subscription, save_subscription
from tests.interfaces import support
from tests.interfaces.conftest import Stack
from tests.interfaces.docs import ROOT
from workflows import messages as m

EVENTS_DOC = ROOT / "docs" / "events.md"
_BLOCK = re.compile(r"<!-- event: ([a-z._]+) -->\n```json\n(.*?)\n```", re.S)


def documented() -> dict[str, dict[str, Any]]:
    found = _BLOCK.findall(EVENTS_DOC.read_text(encoding="utf-8"))
    return {name: json.loads(body) for name, body in found}


def test_every_catalogue_type_has_a_valid_example() -> None:
    examples = documented()
    assert set(examples) == set(EVENT_TYPES)
    schema_file = ROOT / "schemas" / "v1" / "CloudEvent.schema.json"
    validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text("utf-8")))
    for name, event in examples.items():
        assert event["type"] == name
        validator.validate(event)
        CloudEvent.model_validate(event)
        assert {"event_id", "seq", "hash", "phase_id", "round"} <= set(event["data"])
        assert f"`{name}`" in EVENTS_DOC.read_text(encoding="utf-8")


@pytest.mark.integration
async def test_documented_data_fields_are_what_the_outbox_sends(stack: Stack) -> None:
    # Flensburg: no other test starts procedures there, so this subscription sees only ours.
    sub = Subscription("events-doc", "https://x.example/events", "DOC", "baugb-3-1", "01001000")
    await save_subscription(stack.pool, sub)
    handle = await support.start(
        stack.client,
        stack.task_queue,
        support.fresh("baugb-3-1", municipality="01001000", land="SH"),
    )
    await support.wait_phase(handle, "announcement")
    await support.advance(handle, "participation")
    statement = {"idempotency_key": "p1", "role": "public", "statement_type": "suggestion"}
    await handle.execute_update(
        "submit_statement", {**statement, "text": "Mehr Grün"}, result_type=m.StatementReceipt
    )
    ends = (await support.status(handle)).phase_ends
    assert ends is not None
    extend = {"idempotency_key": "e1", "role": "administration", "reason": "Ferien"}
    await handle.execute_update(
        "admin_extend_deadline",
        {**extend, "new_end": (ends + timedelta(days=7)).isoformat()},
        result_type=m.Receipt,
    )
    await support.advance(handle, "evaluation")
    decision = {"idempotency_key": "d1", "role": "administration", "outcome": "done"}
    await handle.execute_update(
        "record_decision",
        {**decision, "title": "Ergebnis", "ends_phase": True},
        result_type=m.Receipt,
    )
    assert (await handle.result())["state"] == "completed"
    rows = await stack.pool.fetch(
        "SELECT payload FROM outbox WHERE channel = 'webhook' AND recipient = $1 "
        "AND procedure_id = $2",
        "events-doc",
        handle.id,
    )
    sent: dict[str, set[str]] = {}
    for row in rows:
        payload = json.loads(row["payload"])
        sent[payload["type"]] = set(payload["data"])
    examples = documented()
    assert set(sent) == {
        "de.civicflow.procedure.started",
        "de.civicflow.phase.changed",
        "de.civicflow.deadline.extended",
        "de.civicflow.statement.received",
        "de.civicflow.decision.recorded",
        "de.civicflow.procedure.completed",
    }
    for event_type, fields in sent.items():
        assert set(examples[event_type]["data"]) == fields, event_type


@pytest.mark.integration
async def test_a_cancelled_procedure_sends_procedure_cancelled_once(stack: Stack) -> None:
    sub = Subscription("events-cancel", "https://x.example/end", "DOC", "baugb-3-1", "01001000")
    await save_subscription(stack.pool, sub)
    handle = await support.start(
        stack.client,
        stack.task_queue,
        support.fresh("baugb-3-1", municipality="01001000", land="SH"),
    )
    await support.wait_phase(handle, "announcement")
    await support.cancel(handle)
    rows = await stack.pool.fetch(
        "SELECT payload FROM outbox WHERE channel = 'webhook' AND recipient = $1 "
        "AND procedure_id = $2",
        "events-cancel",
        handle.id,
    )
    payloads = [json.loads(row["payload"]) for row in rows]
    ends = [p for p in payloads if p["type"].startswith("de.civicflow.procedure.c")]
    assert [p["type"] for p in ends] == ["de.civicflow.procedure.cancelled"]
    data = ends[0]["data"]
    assert set(data) == set(documented()["de.civicflow.procedure.cancelled"]["data"])
    assert data["reason"] == "test over"
    assert data["phase_id"] == "announcement"
