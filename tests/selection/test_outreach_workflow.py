"""Outreach and the panel lottery inside a running Bürgerrat (catalogue definition).

Real Temporal (time-skipping), the in-memory storage stand-in for the engine's own
activities, the real selection activities with files in a temporary folder.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from activities.selection.activity import SelectionActivities
from activities.selection.settings import SelectionSettings
from definitions.schema import Definition, InvitationPhase
from tests.helpers import assert_eq_eventually, new_worker
from tests.interfaces.test_events import documented
from tests.workflows.fakes import FakeStorage
from tests.workflows.support import cancel, load_catalogue, start, start_input, wait_phase
from workflows import messages as m
from workflows import outreach
from workflows.procedure import ProcedureWorkflow

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
    selection = SelectionActivities(settings)  # no melderegister.csv in the data folder
    acts: list[Callable[..., Any]] = [*storage.activities(), selection.draw_outreach_wave]
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
