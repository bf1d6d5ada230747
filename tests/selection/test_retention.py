"""Deleting outreach address lists: real files from the wave activity, real PostgreSQL chain."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer
from typer.testing import CliRunner, Result

from activities.selection.activity import (
    PURGE_OUTREACH_ADDRESSES,
    DrawOutreachWaveInput,
    PurgeAddressesInput,
    SelectionActivities,
)
from activities.selection.outreach import GroupGap
from activities.selection.retention import (
    PURGED_EVENT,
    OutsideDocumentsError,
    address_lists,
    purge_addresses,
)
from activities.selection.settings import FileNameError, SelectionSettings
from activities.storage.audit import verify_chain
from tests.helpers import assert_eq_eventually
from tests.interfaces.support import WAIT
from tests.selection.test_outreach_workflow import population, write_csv
from tests.workflows.support import cancel, load_catalogue, start, start_input, wait_phase
from worker import registry
from worker.cli import app
from worker.config import load_settings
from worker.run import build_worker
from worker.telemetry import Metrics
from workflows import messages as m
from workflows import outreach
from workflows.procedure import ProcedureWorkflow

PROCEDURE = "buergerrat-2026"
STREETS = ("Musterweg", "Hauptstraße")


@pytest.fixture
def settings(tmp_path: Path) -> SelectionSettings:
    data = tmp_path / "data"
    data.mkdir()
    rows = ["id,age,name,address"]
    for i in range(40):
        age = "16-24" if i % 2 else "65+"
        rows.append(f"m{i:03},{age},Person {i},{STREETS[i % 2]} {i}")
    (data / "melderegister.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return SelectionSettings(data_dir=data, documents_dir=tmp_path / "documents")


async def draw_wave(settings: SelectionSettings, wave_id: str, procedure: str = PROCEDURE) -> str:
    gap = GroupGap(
        feature="age",
        category="16-24",
        target_share=0.5,
        actual_share=0.1,
        registered=2,
        missing=8,
    )
    result = await SelectionActivities(settings).draw_outreach_wave(
        DrawOutreachWaveInput(
            procedure_id=procedure,
            wave_id=wave_id,
            extract="melderegister.csv",
            letters=5,
            gaps=[gap],
        )
    )
    assert result.drawn == 5
    return result.list_sha256


async def purge_events(pool: asyncpg.Pool, procedure: str = PROCEDURE) -> list[dict[str, object]]:
    rows = await pool.fetch(
        "SELECT payload FROM events WHERE procedure_id = $1 AND event_type = $2 ORDER BY seq",
        procedure,
        PURGED_EVENT,
    )
    return [json.loads(row["payload"]) for row in rows]


async def test_purge_deletes_every_wave_list_records_it_and_is_idempotent(
    db_pool: asyncpg.Pool, settings: SelectionSettings
) -> None:
    digests = {wave: await draw_wave(settings, wave) for wave in ("wave-1", "wave-2")}
    report = settings.procedure_folder(PROCEDURE, "selection", "s1", "report.json")
    report.parent.mkdir(parents=True)
    report.write_text("{}", encoding="utf-8")  # panel documents are not personal data: kept

    first = await purge_addresses(db_pool, settings, PROCEDURE)
    second = await purge_addresses(db_pool, settings, PROCEDURE)

    assert {item.wave_id: item.sha256 for item in first.purged} == digests
    assert second.purged == []
    assert second.kept == []
    assert address_lists(settings, PROCEDURE) == []
    assert report.exists()
    events = await purge_events(db_pool)
    assert len(events) == 2
    for payload in events:
        data = payload["data"]
        assert isinstance(data, dict)
        assert data["sha256"] == digests[data["wave_id"]]
        assert data["reason"] == "purge"
        assert data["file"] == f"{PROCEDURE}/outreach/{data['wave_id']}/addresses.csv"
        text = json.dumps(payload)
        assert not any(street in text for street in STREETS)
        assert "Person" not in text
    assert (await verify_chain(db_pool, PROCEDURE)).ok


async def test_retention_period_keeps_young_lists(
    db_pool: asyncpg.Pool, settings: SelectionSettings
) -> None:
    await draw_wave(settings, "old")
    await draw_wave(settings, "young")
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    old = settings.procedure_folder(PROCEDURE, "outreach", "old", "addresses.csv")
    young = settings.procedure_folder(PROCEDURE, "outreach", "young", "addresses.csv")
    for path, age in ((old, timedelta(days=31)), (young, timedelta(days=29))):
        stamp = (now - age).timestamp()
        os.utime(path, (stamp, stamp))

    result = await purge_addresses(
        db_pool, settings, PROCEDURE, older_than=timedelta(days=30), now=now
    )

    assert [item.wave_id for item in result.purged] == ["old"]
    assert result.kept == ["young"]
    assert not old.exists()
    assert young.exists()
    [event] = await purge_events(db_pool)
    data = event["data"]
    assert isinstance(data, dict)
    assert (data["reason"], data["retention_days"]) == ("retention", 30)


async def test_a_symlink_out_of_the_documents_folder_is_refused(
    db_pool: asyncpg.Pool, settings: SelectionSettings, tmp_path: Path
) -> None:
    await draw_wave(settings, "wave-1")
    elsewhere = tmp_path / "elsewhere.csv"
    elsewhere.write_text("id\nx\n", encoding="utf-8")
    sneaky = settings.procedure_folder(PROCEDURE, "outreach", "wave-2")
    sneaky.mkdir()
    (sneaky / "addresses.csv").symlink_to(elsewhere)

    with pytest.raises(OutsideDocumentsError, match="refusing to delete"):
        await purge_addresses(db_pool, settings, PROCEDURE)

    assert elsewhere.exists()
    assert settings.procedure_folder(PROCEDURE, "outreach", "wave-1", "addresses.csv").exists()
    assert await purge_events(db_pool) == []


@pytest.mark.parametrize("bad", ["../etc", "a/b", ".hidden", "/abs"])
async def test_a_procedure_id_that_is_not_a_folder_name_is_refused(
    db_pool: asyncpg.Pool, settings: SelectionSettings, bad: str
) -> None:
    with pytest.raises(FileNameError, match="procedure_id"):
        await purge_addresses(db_pool, settings, bad)


async def civicflow(database_url: str, schema: str, *args: str) -> Result:
    options = ["--database-url", database_url, "--database-schema", schema]
    return await asyncio.to_thread(CliRunner().invoke, app, [*args, *options])


async def test_purge_addresses_command(
    db_pool: asyncpg.Pool, database_url: str, db_schema: str, settings: SelectionSettings
) -> None:
    await draw_wave(settings, "wave-1")
    await draw_wave(settings, "wave-1", procedure="quartier-west")
    docs = ["--documents-dir", str(settings.documents_dir)]
    purge = ("selection", "purge-addresses")

    done = await civicflow(database_url, db_schema, *purge, PROCEDURE, *docs)
    again = await civicflow(database_url, db_schema, *purge, PROCEDURE, *docs)
    no_period = await civicflow(database_url, db_schema, *purge, "--all", *docs)
    sweep = await civicflow(database_url, db_schema, *purge, "--all", "--older-than", "0", *docs)
    bad = await civicflow(database_url, db_schema, *purge, "..", *docs)

    assert done.exit_code == 0, done.output
    assert f"deleted {PROCEDURE}/outreach/wave-1/addresses.csv" in done.output
    assert again.exit_code == 0
    assert "no address lists to delete" in again.output
    assert no_period.exit_code == 1
    assert "--older-than DAYS is required" in no_period.output
    assert sweep.exit_code == 0, sweep.output
    assert "deleted quartier-west/outreach/wave-1/addresses.csv" in sweep.output
    assert bad.exit_code == 1
    assert "procedure_id" in bad.output
    assert len(await purge_events(db_pool)) == 1
    assert len(await purge_events(db_pool, "quartier-west")) == 1


async def test_the_activity_purges_for_a_workflow_and_needs_the_database(
    db_pool: asyncpg.Pool, settings: SelectionSettings
) -> None:
    digest = await draw_wave(settings, "wave-1")
    acts = SelectionActivities(settings, db_pool)

    first = await acts.purge_outreach_addresses(PurgeAddressesInput(procedure_id=PROCEDURE))
    second = await acts.purge_outreach_addresses(PurgeAddressesInput(procedure_id=PROCEDURE))
    with pytest.raises(ApplicationError, match="no database"):
        await SelectionActivities(settings).purge_outreach_addresses(
            PurgeAddressesInput(procedure_id=PROCEDURE)
        )
    with pytest.raises(ApplicationError, match="procedure_id") as bad:
        await acts.purge_outreach_addresses(PurgeAddressesInput(procedure_id="../x"))

    assert (first.waves, first.sha256) == (["wave-1"], [digest])
    assert second.waves == []
    assert bad.value.non_retryable
    assert len(await purge_events(db_pool)) == 1


# ---------------------------------------------------------------------------- engine


@contextlib.asynccontextmanager
async def engine_worker(
    env: WorkflowEnvironment,
    database_url: str,
    db_schema: str,
    pool: asyncpg.Pool,
    settings: SelectionSettings,
) -> AsyncIterator[str]:
    """The real worker (real storage in PostgreSQL, the catalogue loader) whose selection
    activities use this test's folders; yields its task queue."""
    config = load_settings(
        task_queue=f"purge-{uuid.uuid4().hex[:8]}",
        temporal_address=env.client.service_client.config.target_host,
        database_url=database_url,
        database_schema=db_schema,
        metrics_port=0,
    )
    deps = registry.ActivityDeps(pool=pool, metrics=Metrics(CollectorRegistry()), settings=config)
    activities = [
        a
        for a in registry.build_activities(deps)
        if not isinstance(getattr(a, "__self__", None), SelectionActivities)
    ]
    activities += registry.activity_methods(SelectionActivities(settings, pool))
    worker = build_worker(env.client, config, workflows=registry.WORKFLOWS, activities=activities)
    try:
        async with worker:
            yield config.task_queue
    finally:
        for close in deps.closers:
            await close()


async def event_rows(pool: asyncpg.Pool, procedure_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(type, data) of every stored event of the procedure, in chain order."""
    rows = await pool.fetch(
        "SELECT event_type, payload FROM events WHERE procedure_id = $1 ORDER BY seq",
        procedure_id,
    )
    out = []
    for row in rows:
        data = json.loads(row["payload"])["data"]
        out.append((row["event_type"], data.get("payload", data)))
    return out


def activity_calls(history: WorkflowHistory, name: str) -> int:
    return sum(
        1
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
        and e.activity_task_scheduled_event_attributes.activity_type.name == name
    )


async def test_the_engine_purges_the_wave_lists_when_the_procedure_ends(
    env: WorkflowEnvironment,
    database_url: str,
    db_schema: str,
    db_pool: asyncpg.Pool,
    settings: SelectionSettings,
) -> None:
    """A Bürgerrat draws a second wave (addresses on disk), is cancelled: the list is gone,
    the chain records its digest, before `procedure.cancelled`; the history replays."""
    extract = population(300, seed=3)
    for i, row in enumerate(extract):
        row["address"] = f"{STREETS[i % 2]} {i}, 69115 Heidelberg"
    write_csv(settings.data_dir / "melderegister.csv", extract)
    async with engine_worker(env, database_url, db_schema, db_pool, settings) as queue:
        handle = await start(env.client, queue, start_input("buergerrat"))
        await wait_phase(handle, "lottery")
        for i in range(20):  # min_profiles: all older, so the young are missing
            receipt = await handle.execute_update(
                ProcedureWorkflow.register,
                m.RegisterInput(idempotency_key=f"reg-{i}", role="invited", name=f"Person {i}"),
            )
            await handle.execute_update(
                outreach.DECLARE_PROFILE,
                outreach.DeclareProfileInput(
                    idempotency_key=f"p-{i}", participant_id=receipt.id, profile={"age": "65+"}
                ),
                result_type=m.Receipt,
            )
        await env.sleep(timedelta(days=11))  # check_after P10D: the second wave is drawn

        async def drawn() -> list[dict[str, Any]]:
            rows = await event_rows(db_pool, handle.id)
            return [data for type_, data in rows if type_ == "outreach.wave_drawn"]

        await assert_eq_eventually(1, lambda: _len(drawn()), timeout=WAIT)
        (wave,) = await drawn()
        listed = settings.documents_dir / wave["file"]
        assert listed.is_file()
        assert "Heidelberg" in listed.read_text(encoding="utf-8")
        await cancel(env, handle)
        timeline = await handle.query(ProcedureWorkflow.timeline)  # a closed run: needs a worker

    assert [e.summary for e in timeline if e.type == PURGED_EVENT] == ["Adresslisten gelöscht: 1"]
    assert not listed.exists()
    assert address_lists(settings, handle.id) == []
    rows = await event_rows(db_pool, handle.id)
    types = [type_ for type_, _ in rows]
    (purged,) = [data for type_, data in rows if type_ == PURGED_EVENT]
    assert purged["wave_id"] == wave["wave_id"]
    assert purged["sha256"] == wave["list_sha256"]
    assert purged["reason"] == "purge"
    assert "Heidelberg" not in json.dumps(purged)
    assert types.index(PURGED_EVENT) < types.index("procedure.cancelled") == len(types) - 1
    assert (await verify_chain(db_pool, handle.id)).ok
    history = await handle.fetch_history()
    assert activity_calls(history, PURGE_OUTREACH_ADDRESSES) == 1
    replayer = Replayer(workflows=[ProcedureWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


async def _len(rows: Awaitable[list[Any]]) -> int:
    return len(await rows)


@pytest.mark.parametrize("definition", ["baugb-3-1", "buergerrat"])
async def test_a_procedure_without_a_wave_does_not_purge(
    env: WorkflowEnvironment,
    database_url: str,
    db_schema: str,
    db_pool: asyncpg.Pool,
    settings: SelectionSettings,
    definition: str,
) -> None:
    """No outreach (baugb-3-1), or outreach ended before its check (no wave drawn)."""
    async with engine_worker(env, database_url, db_schema, db_pool, settings) as queue:
        handle = await start(env.client, queue, start_input(definition))
        await wait_phase(handle, defn_first_phase(definition))
        await cancel(env, handle)
    history = await handle.fetch_history()
    assert activity_calls(history, PURGE_OUTREACH_ADDRESSES) == 0
    types = [type_ for type_, _ in await event_rows(db_pool, handle.id)]
    assert types[-1] == "procedure.cancelled"
    assert PURGED_EVENT not in types


def defn_first_phase(definition: str) -> str:
    return str(load_catalogue(definition).definition["phases"][0]["id"])
