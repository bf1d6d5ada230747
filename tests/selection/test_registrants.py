"""A procedure's lottery pool must be its registered participants (real PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError

from activities.records import ParticipantRecord
from activities.selection.activity import DrawProcedurePanelInput, SelectionActivities
from activities.selection.model import Method
from activities.selection.settings import SelectionSettings
from activities.storage.erasure import erase_participant
from activities.storage.writes import register_participant

PROCEDURE = "buergerrat-2026"
TARGETS = {"gender": {"female": 0.5, "male": 0.5}}


@pytest.fixture
def settings(tmp_path: Path) -> SelectionSettings:
    data = tmp_path / "data"
    data.mkdir()
    return SelectionSettings(data_dir=data, documents_dir=tmp_path / "documents")


async def register(pool: asyncpg.Pool, ids: list[str], procedure: str = PROCEDURE) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for n, pid in enumerate(ids):
            record = ParticipantRecord(
                procedure_id=procedure,
                participant_id=pid,
                role="public",
                name=f"Person {n}",
                email=f"person{n}@example.org",
                address=f"Hauptstraße {n}, 69117 Heidelberg",
                language="de",
                registered_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
            await register_participant(conn, record)


def write_pool(settings: SelectionSettings, ids: list[str]) -> None:
    rows = ["id,gender", *(f"{pid},{'female' if n % 2 else 'male'}" for n, pid in enumerate(ids))]
    (settings.data_dir / "pool.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def draw(selection_id: str) -> DrawProcedurePanelInput:
    return DrawProcedurePanelInput(
        procedure_id=PROCEDURE,
        selection_id=selection_id,
        pool="pool.csv",
        targets=TARGETS,
        k=4,
        seed="Lottozahlen 2026-11-28",
        method=Method.MAXIMIN,
        legacy_runs=0,
    )


async def test_a_pool_of_registrants_is_drawn(
    db_pool: asyncpg.Pool, settings: SelectionSettings
) -> None:
    ids = [f"r{n:02}" for n in range(12)]
    await register(db_pool, ids)
    write_pool(settings, ids)

    result = await SelectionActivities(settings, db_pool).draw_procedure_panel(draw("s1"))

    assert len(result.panel) == 4
    assert set(result.panel) <= set(ids)


async def test_unknown_other_procedures_and_erased_ids_are_refused_by_line(
    db_pool: asyncpg.Pool, settings: SelectionSettings
) -> None:
    ids = [f"r{n:02}" for n in range(12)]
    await register(db_pool, ids)
    await register(db_pool, ["elsewhere"], procedure="quartier-west")
    erased = await erase_participant(db_pool, "r03")
    assert erased.erased_now
    # lines: header 1, r00..r11 on 2..13, then the strangers on 14..20
    write_pool(settings, [*ids, "elsewhere", *(f"melde{n}" for n in range(6))])

    with pytest.raises(ApplicationError) as caught:
        await SelectionActivities(settings, db_pool).draw_procedure_panel(draw("s2"))

    error = caught.value
    assert error.non_retryable
    assert error.type == "UnregisteredPoolError"
    assert error.message == (
        "pool.csv: 8 of 19 person ids are not registered participants of procedure "
        "'buergerrat-2026' (1 of them erased); first at line(s) 5, 14, 15, 16, 17 and more. "
        "Expected the procedure's registrants by their participant_id (is this the right file?)"
    )
    assert "melde" not in error.message  # lines, not the file's ids
    assert not settings.documents_dir.exists()  # nothing drawn, nothing written


async def test_without_a_database_pool_the_check_is_skipped(settings: SelectionSettings) -> None:
    write_pool(settings, [f"x{n}" for n in range(8)])

    result = await SelectionActivities(settings).draw_procedure_panel(draw("s3"))

    assert len(result.panel) == 4
