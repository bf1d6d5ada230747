"""Loops in definitions: a review sends the procedure back; authorities end a hearing early."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from definitions.schema import Definition
from tests.helpers import assert_eq_eventually, new_worker
from tests.workflows.driver import Driver
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import cancel, load_catalogue, start, start_input, wait_phase
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow


async def test_review_sends_back_to_sessions(env: WorkflowEnvironment) -> None:
    loaded = load_catalogue("buergerrat")
    storage = FakeStorage({"buergerrat": loaded})
    defn = Definition.model_validate(loaded.definition)
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input("buergerrat"))
        driver = Driver(env, handle, defn)
        result = await driver.run(decisions={"review": ["reconvene"]})
    assert result.state == "completed"
    assert driver.phases == [
        ("lottery", 1),
        ("sessions", 1),
        ("council_response", 1),
        ("review", 1),
        ("sessions", 2),  # the review reconvened the assembly: a new round
        ("council_response", 2),
        ("review", 2),
    ]
    decisions = [d.outcome for d in storage.decisions.values()]
    assert "reconvene" in decisions


async def test_all_authorities_answered_ends_the_hearing(env: WorkflowEnvironment) -> None:
    storage = FakeStorage({"baugb-4-2": load_catalogue("baugb-4-2")})
    authorities = ["Regierungspräsidium Karlsruhe", "Netze BW GmbH"]
    stakeholders = [{"role": "authorities", "organisation": o} for o in authorities]
    data = start_input("baugb-4-2", stakeholders=stakeholders)
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, data)
        await wait_phase(handle, "request")
        await handle.execute_update(
            ProcedureWorkflow.admin_advance,
            m.AdminAdvanceInput(idempotency_key="go", role="administration", reason="versandt"),
        )
        await wait_phase(handle, "statements")
        for i, organisation in enumerate(authorities):
            status = await handle.query(ProcedureWorkflow.status)
            assert status.phase_id == "statements"  # not before the last authority answered
            await handle.execute_update(
                ProcedureWorkflow.submit_statement,
                m.StatementInput(
                    idempotency_key=f"toeb-{i}",
                    role="authorities",
                    statement_type="no_concerns",
                    text="Keine Bedenken.",
                    organisation=organisation,
                ),
            )
        await wait_phase(handle, "weighing")

        async def reason() -> str | None:
            for event in storage.events.values():
                if event.type == "phase.ended" and event.phase_id == "statements":
                    return str(event.payload["reason"])
            return None

        expected: str | None = "all_authorities_answered"
        await assert_eq_eventually(expected, reason)
        await cancel(env, handle)


async def test_overdue_commitments_are_escalated(env: WorkflowEnvironment) -> None:
    loaded = load_catalogue("buergerhaushalt")
    storage = FakeStorage({"buergerhaushalt": loaded})
    defn = Definition.model_validate(loaded.definition)
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input("buergerhaushalt"))
        driver = Driver(env, handle, defn, silent_reviews=1)
        result = await driver.run()
    assert result.state == "completed"
    reviews = [p for p in driver.phases if p[0] == "implementation_review"]
    assert len(reviews) == 2  # overdue after the first year: the review runs again
    types = storage.event_types()
    assert types.index("procedure.escalated") < types.index("commitment.overdue")
    notes = [n for n in storage.notifications.values() if n.template == "commitment_overdue"]
    assert {n.audience for n in notes} == {"council"}
    assert all(n.context["commitments"] for n in notes)
