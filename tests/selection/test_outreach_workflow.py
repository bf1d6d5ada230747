"""Outreach and the panel lottery inside a running Bürgerrat (catalogue definition).

Real Temporal (time-skipping), the in-memory storage stand-in for the engine's own
activities, the real selection activities with files in a temporary folder.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import random
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.records import stable_id
from activities.selection.activity import SelectionActivities
from activities.selection.settings import SelectionSettings
from definitions.schema import Definition, InvitationPhase, bind_parameters
from tests.helpers import assert_eq_eventually, new_worker
from tests.interfaces.test_events import documented
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import cancel, load_catalogue, start, start_input, wait_phase
from workflows import messages as m
from workflows import outreach
from workflows.procedure import ProcedureWorkflow
from workflows.state import ProcedureState

DEFINITION = "buergerrat"
COMMON = {"event_id", "seq", "hash", "phase_id", "round"}  # added to every event's data


def targets() -> dict[str, dict[str, float]]:
    defn = Definition.model_validate(load_catalogue(DEFINITION).definition)
    lottery = defn.phase("lottery")
    assert isinstance(lottery, InvitationPhase)
    assert lottery.settings.outreach is not None
    return lottery.settings.outreach.targets


def population(n: int, seed: int) -> list[dict[str, str]]:
    """People drawn from the target shares (the register extract and the pool look alike)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        row = {"id": f"p{i:04d}"}
        for feature, shares in targets().items():
            row[feature] = rng.choices(list(shares), weights=list(shares.values()))[0]
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


async def register(handle: WorkflowHandle[Any, Any], i: int) -> str:
    receipt = await handle.execute_update(
        ProcedureWorkflow.register,
        m.RegisterInput(idempotency_key=f"reg-{i}", role="invited", name=f"Person {i}"),
    )
    return str(receipt.id)


async def declare(handle: WorkflowHandle[Any, Any], pid: str, profile: dict[str, str]) -> Any:
    return await handle.execute_update(
        outreach.DECLARE_PROFILE,
        outreach.DeclareProfileInput(
            idempotency_key=f"p-{pid}", participant_id=pid, profile=profile
        ),
        result_type=m.Receipt,
    )


def events(storage: FakeStorage, type_: str) -> list[Any]:
    return [storage.events[i] for i in storage.event_order if storage.events[i].type == type_]


def assert_documented(event: Any) -> None:
    """docs/events.md shows exactly the data fields the engine sends for this event."""
    example = documented()[f"de.civicflow.{event.type}"]["data"]
    assert set(event.payload) - COMMON == set(example) - COMMON, event.type


@pytest.fixture
def settings(tmp_path: Path) -> SelectionSettings:
    data = tmp_path / "data"
    data.mkdir()
    return SelectionSettings(data_dir=data, documents_dir=tmp_path / "documents")


async def test_gaps_reported_second_wave_and_panel_logged(
    env: WorkflowEnvironment, settings: SelectionSettings
) -> None:
    storage = FakeStorage({DEFINITION: load_catalogue(DEFINITION)})
    selection = SelectionActivities(settings)
    extract = population(400, seed=1)
    for i, row in enumerate(extract):
        row["address"] = f"Musterweg {i}, 69115 Heidelberg"
    write_csv(settings.data_dir / "melderegister.csv", extract)
    write_csv(settings.data_dir / "registrations.csv", population(160, seed=2))
    acts: list[Callable[..., Any]] = [
        *storage.activities(),
        selection.draw_procedure_panel,
        selection.draw_outreach_wave,
    ]
    async with new_worker(env.client, ProcedureWorkflow, activities=acts) as w:
        data = start_input(DEFINITION, parameters={"panel_size": 12})
        handle = await start(env.client, w.task_queue, data)
        await wait_phase(handle, "lottery")
        # 24 registrants, all older and without migration background: the young are missing
        ids = [await register(handle, i) for i in range(24)]
        for n, pid in enumerate(ids):
            profile = {"age": ["35-44", "45-54", "55-64", "65+"][n % 4], "gender": "female"}
            profile["migration_background"] = "none"
            await declare(handle, pid, profile)
        view = await handle.query(outreach.OUTREACH_QUERY, result_type=outreach.OutreachView)
        assert view.compared
        assert view.profiles == 24
        assert view.registrations == 24
        missing = {(g.feature, g.category): g.missing for g in view.gaps}
        assert ("age", "16-24") in missing
        assert ("age", "25-34") in missing
        assert ("gender", "male") in missing
        assert ("migration_background", "own") in missing
        assert ("age", "65+") not in missing
        # (0 + x) / (24 + x) >= 0.11  ->  x >= 2.97  ->  3 more registrations of the young
        assert missing[("age", "16-24")] == 3
        status = await handle.query(ProcedureWorkflow.status)
        assert status.counts["under_represented:age=16-24"] == 3
        assert status.counts["profile:age=65+"] == 6
        assert not events(storage, "outreach.under_represented")  # not before check_after

        await env.sleep(timedelta(days=11))  # check_after is P10D
        await assert_eq_eventually(1, lambda: _count(storage, "outreach.wave_drawn"))
        (reported,) = events(storage, "outreach.under_represented")
        assert_documented(reported)
        assert {(g["feature"], g["category"]) for g in reported.payload["gaps"]} == set(missing)
        (wave,) = events(storage, "outreach.wave_drawn")
        assert_documented(wave)
        assert wave.payload["letters"] == 1000  # second_wave_letters default
        assert "Musterweg" not in str(wave.payload)  # counts and digests, no address
        listed = settings.documents_dir / wave.payload["file"]
        text = listed.read_text(encoding="utf-8")
        assert hashlib.sha256(text.encode()).hexdigest() == wave.payload["list_sha256"]
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == wave.payload["drawn"] > 0
        gap_groups = {(f, c) for f, c in missing}
        assert all(any((f, r[f]) in gap_groups for f in targets()) for r in rows)

        receipt = await handle.execute_update(
            outreach.DRAW_PANEL,
            outreach.DrawPanelInput(
                idempotency_key="draw-1",
                role="moderator",
                seed="2026-12-05: 4 11 23 31 40 45",
                pool="registrations.csv",
            ),
            result_type=m.Receipt,
        )
        (selected,) = events(storage, "panel.selected")
        assert_documented(selected)
        payload = selected.payload
        assert payload["selection_id"] == receipt.id
        assert len(payload["panel"]) == 12
        assert payload["quotas_met"]
        assert payload["seed"] == "2026-12-05: 4 11 23 31 40 45"
        assert len(payload["distribution_hash"]) == 64
        assert 0 < payload["probability"]["min"] <= payload["probability"]["max"] <= 1
        folder = settings.documents_dir / payload["folder"]
        assert set(payload["documents"]) >= {
            "report.json",
            "distribution.json",
            "probabilities.png",
        }
        for name, digest in payload["documents"].items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
        status = await handle.query(ProcedureWorkflow.status)
        assert status.counts["panel_members"] == 12
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(
                outreach.DRAW_PANEL,
                outreach.DrawPanelInput(
                    idempotency_key="draw-2",
                    role="moderator",
                    seed="again",
                    pool="registrations.csv",
                ),
                result_type=m.Receipt,
            )
        assert _cause_matches(info.value, "already drawn")
        await cancel(env, handle)


def _count(storage: FakeStorage, type_: str) -> Any:
    async def count() -> int:
        return len(events(storage, type_))

    return count()


async def test_bad_profiles_are_rejected_by_the_validator(
    env: WorkflowEnvironment, settings: SelectionSettings
) -> None:
    storage = FakeStorage({DEFINITION: load_catalogue(DEFINITION)})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input(DEFINITION))
        await wait_phase(handle, "lottery")
        pid = await register(handle, 1)
        cases = [
            ("nobody", {"age": "65+"}, "INVALID_PAYLOAD.*not registered"),
            (pid, {"age": "90+"}, "INVALID_PAYLOAD.*expected one of 16-24"),
            (pid, {"income": "high"}, "UNKNOWN_FIELD.*profile.income"),
        ]
        for participant, profile, message in cases:
            with pytest.raises(WorkflowUpdateFailedError) as info:
                await declare(handle, participant, profile)
            assert _cause_matches(info.value, message)
        await declare(handle, pid, {"age": "65+"})
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await declare(handle, pid, {"age": "16-24"})
        assert _cause_matches(info.value, "DUPLICATE_IDEMPOTENCY_KEY")
        view = await handle.query(outreach.OUTREACH_QUERY, result_type=outreach.OutreachView)
        assert view.profiles == 1
        assert not view.compared
        assert view.gaps == []
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(
                outreach.DRAW_PANEL,
                {"idempotency_key": "d", "role": "moderator", "seed": "s", "pool": "../etc/x.csv"},
                result_type=m.Receipt,
            )
        assert _cause_matches(info.value, "INVALID_PAYLOAD.*pool")
        await cancel(env, handle)


def _cause_matches(err: WorkflowUpdateFailedError, pattern: str) -> bool:
    import re

    message = str(err.cause)
    assert re.search(pattern, message), message
    return True


async def test_a_missing_register_extract_is_reported_and_the_procedure_goes_on(
    env: WorkflowEnvironment, settings: SelectionSettings
) -> None:
    storage = FakeStorage({DEFINITION: load_catalogue(DEFINITION)})
    selection = SelectionActivities(settings)  # no melderegister.csv, no database
    acts: list[Callable[..., Any]] = [
        *storage.activities(),
        selection.draw_outreach_wave,
        selection.purge_outreach_addresses,
    ]
    async with new_worker(env.client, ProcedureWorkflow, activities=acts) as w:
        handle = await start(env.client, w.task_queue, start_input(DEFINITION))
        await wait_phase(handle, "lottery")
        for i in range(20):
            await declare(handle, await register(handle, i), {"age": "65+"})
        await env.sleep(timedelta(days=11))
        await assert_eq_eventually(1, lambda: _count(storage, "outreach.wave_failed"))
        (failed,) = events(storage, "outreach.wave_failed")
        assert_documented(failed)
        assert failed.payload["extract"] == "melderegister.csv"
        assert "melderegister.csv" in failed.payload["reason"]
        assert not events(storage, "outreach.wave_drawn")
        status = await handle.query(ProcedureWorkflow.status)
        assert status.state == "running"
        assert status.phase_id == "lottery"
        await cancel(env, handle)
    # a wave was started: the end purges, and a purge that cannot run is logged, not fatal
    (purge_failed,) = events(storage, "outreach.purge_failed")
    assert "no database" in purge_failed.payload["reason"]
    assert storage.event_types()[-1] == "procedure.cancelled"


async def test_a_failed_draw_is_refused_with_selection_failed_and_the_procedure_goes_on(
    env: WorkflowEnvironment, settings: SelectionSettings
) -> None:
    storage = FakeStorage({DEFINITION: load_catalogue(DEFINITION)})
    selection = SelectionActivities(settings)  # no pool file in the data folder
    acts: list[Callable[..., Any]] = [*storage.activities(), selection.draw_procedure_panel]
    async with new_worker(env.client, ProcedureWorkflow, activities=acts) as w:
        handle = await start(env.client, w.task_queue, start_input(DEFINITION))
        await wait_phase(handle, "lottery")
        draw = outreach.DrawPanelInput(
            idempotency_key="draw-1", role="moderator", seed="s", pool="missing.csv"
        )
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(outreach.DRAW_PANEL, draw, result_type=m.Receipt)
        assert _cause_matches(info.value, "^SELECTION_FAILED: .*missing.csv")
        assert not events(storage, "panel.selected")
        status = await handle.query(ProcedureWorkflow.status)
        assert (status.state, status.phase_id) == ("running", "lottery")
        await cancel(env, handle)


async def test_outreach_survives_continue_as_new(
    env: WorkflowEnvironment, settings: SelectionSettings
) -> None:
    """Counts, the check and the handlers carry over when the run continues as new."""
    storage = FakeStorage({DEFINITION: load_catalogue(DEFINITION)})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        data = start_input(DEFINITION, limits={"max_updates_per_run": 10})
        handle = await start(env.client, w.task_queue, data)
        await wait_phase(handle, "lottery")
        for i in range(12):  # 24 updates: at least two continue-as-new on the way
            await declare(handle, await register(handle, i), {"age": "65+", "gender": "male"})
        status = await handle.query(ProcedureWorkflow.status)
        assert status.run >= 2
        view = await handle.query(outreach.OUTREACH_QUERY, result_type=outreach.OutreachView)
        assert view.profiles == 12
        assert view.counts["age"] == {"65+": 12}
        assert not view.compared  # min_profiles is 20
        for i in range(12, 20):
            await declare(handle, await register(handle, i), {"age": "16-24"})
        await env.sleep(timedelta(days=11))
        await assert_eq_eventually(1, lambda: _count(storage, "outreach.under_represented"))
        (reported,) = events(storage, "outreach.under_represented")
        assert_documented(reported)
        assert reported.payload["profiles"] == 20
        status = await handle.query(ProcedureWorkflow.status)
        assert status.counts["profile:age=16-24"] == 8
        await cancel(env, handle)


async def test_outreach_answers_in_a_run_that_continued_after_the_invitation_phase(
    env: WorkflowEnvironment, settings: SelectionSettings
) -> None:
    """An integrator keeps the `outreach` query and both updates after the invitation phase,
    in a later run too: the final figures, a refusal naming the phase, the late draw."""
    storage = FakeStorage({DEFINITION: load_catalogue(DEFINITION)})
    selection = SelectionActivities(settings)
    write_csv(settings.data_dir / "registrations.csv", population(160, seed=2))
    acts: list[Callable[..., Any]] = [*storage.activities(), selection.draw_procedure_panel]
    async with new_worker(env.client, ProcedureWorkflow, activities=acts) as w:
        # 8 registrations, the advance and one decision: the tenth update continues as new
        data = start_input(DEFINITION, parameters={"panel_size": 12})
        data["limits"] = {"max_updates_per_run": 10}
        handle = await start(env.client, w.task_queue, data)
        await wait_phase(handle, "lottery")
        for i in range(8):
            await declare(handle, await register(handle, i), {"age": "65+", "gender": "male"})
        before = await handle.query(outreach.OUTREACH_QUERY, result_type=outreach.OutreachView)
        assert before.check_at is not None
        await handle.execute_update(
            ProcedureWorkflow.admin_advance,
            m.AdminAdvanceInput(idempotency_key="adv", role="administration", reason="Losung"),
        )
        await wait_phase(handle, "sessions")
        await handle.execute_update(
            ProcedureWorkflow.record_decision,
            m.RecordDecisionInput(
                idempotency_key="note", role="moderator", outcome="noted", title="Ablauf"
            ),
        )
        await assert_eq_eventually(2, lambda: _run(handle))
        status = await handle.query(ProcedureWorkflow.status)
        assert (status.phase_id, status.counts["profiles"]) == ("sessions", 8)

        view = await handle.query(outreach.OUTREACH_QUERY, result_type=outreach.OutreachView)
        assert view.phase_id == "lottery"
        assert (view.registrations, view.profiles) == (8, 8)
        assert view.counts["age"] == {"65+": 8}
        assert view.check_at == before.check_at  # kept from the lottery phase's run
        pid = stable_id(handle.id, "participant", "reg-9")
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await declare(handle, pid, {"age": "16-24"})
        assert _cause_matches(
            info.value,
            "PHASE_DOES_NOT_ACCEPT: declare_profile is accepted only in phase 'lottery' "
            "\\(current: 'sessions'\\)",
        )
        draw = outreach.DrawPanelInput(
            idempotency_key="draw-1", role="moderator", seed="4 11 23", pool="registrations.csv"
        )
        receipt = await handle.execute_update(outreach.DRAW_PANEL, draw, result_type=m.Receipt)
        assert receipt.phase_id == "sessions"  # drawn once registration had closed
        (selected,) = events(storage, "panel.selected")
        assert selected.payload["selection_id"] == receipt.id
        assert len(selected.payload["panel"]) == 12
        again = draw.model_copy(update={"idempotency_key": "draw-2"})
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(outreach.DRAW_PANEL, again, result_type=m.Receipt)
        assert _cause_matches(info.value, "already drawn")
        view = await handle.query(outreach.OUTREACH_QUERY, result_type=outreach.OutreachView)
        assert view.done == ["panel:lottery#1"]
        assert (await handle.query(ProcedureWorkflow.status)).counts["panel_members"] == 12
        await cancel(env, handle)


async def _run(handle: WorkflowHandle[Any, Any]) -> int:
    return int((await handle.query(ProcedureWorkflow.status)).run)


async def test_a_draw_before_the_lottery_phase_is_refused_naming_it(
    env: WorkflowEnvironment, settings: SelectionSettings
) -> None:
    """A definition whose lottery comes later: the updates exist and say where they apply."""
    loaded = load_catalogue(DEFINITION)
    raw = copy.deepcopy(loaded.definition)
    intro = {
        "id": "intro",
        "type": "deliberation",
        "title": {"de": "Auftakt", "en": "Kick-off"},
        "audiences": ["public"],
        "ends_when": [{"kind": "moderator_decision"}],
    }
    raw["phases"] = [intro, *raw["phases"]]
    defn = Definition.model_validate(raw)
    storage = FakeStorage({DEFINITION: loaded.model_copy(update={"definition": raw})})
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await start(env.client, w.task_queue, start_input(DEFINITION))
        await wait_phase(handle, defn.first_phase_id())
        draw = outreach.DrawPanelInput(
            idempotency_key="early", role="moderator", seed="s", pool="registrations.csv"
        )
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(outreach.DRAW_PANEL, draw, result_type=m.Receipt)
        assert _cause_matches(
            info.value,
            "PHASE_DOES_NOT_ACCEPT: draw_panel is accepted from phase 'lottery' on "
            "\\(current: 'intro'\\)",
        )
        view = await handle.query(outreach.OUTREACH_QUERY, result_type=outreach.OutreachView)
        assert (view.phase_id, view.profiles, view.check_at) == ("lottery", 0, None)
        await cancel(env, handle)


def legacy_state(procedure_id: str, participants: list[str]) -> dict[str, Any]:
    """A carried state as runs before `OutreachState` handed it to continue-as-new: the
    outreach figures in the generic counters and key lists."""
    loaded = load_catalogue(DEFINITION)
    defn = Definition.model_validate(loaded.definition)
    data = start_input(DEFINITION)
    state = ProcedureState(
        procedure_id=procedure_id,
        start=m.StartProcedure.model_validate(data),
        definition=loaded.definition,
        definition_version=loaded.version,
        definition_hash=loaded.content_hash,
        params=bind_parameters(defn, {}),
        life="running",
        phase_id="lottery",
        phase_entered=True,
        phase_started=date(2026, 1, 5),
        phase_visits={"lottery": 1},
        participants=dict.fromkeys(participants, "invited"),
        run=3,
    ).model_dump(mode="json")
    del state["outreach"]
    state["counts"] = {
        "participants": len(participants),
        "profiles": 2,
        "profile:age=65+": 2,
        "profile:gender=female": 1,
        "under_represented:age=16-24": 1,
        "outreach_letters": 7,
    }
    state["handled_keys"] = {
        "registration": ["reg-0", "reg-1", "reg-2"],
        "profile": participants[:2],
        "outreach": ["wave:lottery#0"],
    }
    return state


def test_a_legacy_carried_state_loads_into_the_typed_part() -> None:
    old = legacy_state("procedure-x", ["p0", "p1", "p2"])
    state = ProcedureState.model_validate(old)
    part = state.outreach
    assert (part.profiles, part.letters, part.panel_members) == (2, 7, None)
    assert part.groups == {"age": {"65+": 2}, "gender": {"female": 1}}
    assert (part.declared, part.done) == (["p0", "p1"], ["wave:lottery#0"])
    assert part.waves_drawn()
    assert state.counts == {"participants": 3}
    assert state.handled_keys == {"registration": ["reg-0", "reg-1", "reg-2"]}
    again = ProcedureState.model_validate(state.model_dump(mode="json"))
    assert again == state  # the new shape round-trips unchanged


async def test_a_run_continued_from_a_legacy_state_goes_on(
    env: WorkflowEnvironment, settings: SelectionSettings
) -> None:
    """Through the real SDK: a run whose continue-as-new input has the old shape."""
    storage = FakeStorage({DEFINITION: load_catalogue(DEFINITION)})
    wf_id = m.procedure_workflow_id("08221000", f"legacy {uuid.uuid4().hex[:8]}")
    pids = [stable_id(wf_id, "participant", f"reg-{i}") for i in range(3)]
    async with new_worker(env.client, ProcedureWorkflow, activities=storage.activities()) as w:
        handle = await env.client.start_workflow(
            "Procedure", args=[None, legacy_state(wf_id, pids)], id=wf_id, task_queue=w.task_queue
        )
        typed = env.client.get_workflow_handle_for(ProcedureWorkflow.run, handle.id)
        view = await typed.query(outreach.OUTREACH_QUERY, result_type=outreach.OutreachView)
        assert (view.phase_id, view.profiles, view.registrations) == ("lottery", 2, 3)
        assert view.counts["age"]["65+"] == 2
        status = await typed.query(ProcedureWorkflow.status)
        assert status.run == 4
        assert status.counts["profile:age=65+"] == 2
        assert status.counts["outreach_letters"] == 7
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await declare(typed, pids[0], {"age": "16-24"})  # declared in an earlier run
        assert _cause_matches(info.value, "DUPLICATE_IDEMPOTENCY_KEY")
        await declare(typed, pids[2], {"age": "16-24"})
        view = await typed.query(outreach.OUTREACH_QUERY, result_type=outreach.OutreachView)
        assert view.profiles == 3
        assert view.counts["age"] == {"65+": 2, "16-24": 1}
        await cancel(env, typed)
