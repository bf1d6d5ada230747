"""The read model over data written by the real storage activities (real PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import asyncpg
import pytest

from tests.web.seed import T0, Seeder
from worker.web import readmodel
from worker.web.models import (
    CommitmentFilters,
    PageRequest,
    ProcedureFilters,
)

HD = "08221000"
MA = "08222000"


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


async def _bplan(seeder: Seeder, pid: str = "proc-bplan", title: str = "B-Plan Bahnstadt") -> None:
    """A § 3(2) publication: announcement, hearing (extended), weighing, decision."""
    await seeder.procedure(pid, title=title)
    await seeder.phase(
        pid, "announcement", "invitation", start=date(2026, 11, 3), end=date(2026, 11, 9), at=at(0)
    )
    await seeder.end_phase(pid, "announcement", at=at(7))
    await seeder.phase(
        pid, "hearing", "hearing", start=date(2026, 11, 10), end=date(2026, 12, 10), at=at(8)
    )
    await seeder.extend(pid, "hearing", date(2026, 12, 10), date(2026, 12, 17), at=at(20))


async def test_list_shows_current_phase_and_extended_deadline(
    seeder: Seeder, db_pool: asyncpg.Pool
) -> None:
    await _bplan(seeder)
    page = await readmodel.list_procedures(db_pool)
    assert page.total == 1
    (item,) = page.items
    assert (item.phase_id, item.phase_type, item.state) == ("hearing", "hearing", "running")
    assert item.period_end == date(2026, 12, 17)
    assert item.kind == "bauleitplanung"
    assert item.phase_title is not None
    assert item.phase_title.de.startswith("Veröffentlichung")


async def test_filters_and_pagination(seeder: Seeder, db_pool: asyncpg.Pool) -> None:
    for n in range(7):
        pid = f"p-{n}"
        await seeder.procedure(
            pid,
            title=f"Radweg {n}" if n % 2 else f"Spielplatz {n}",
            municipality=HD if n < 4 else MA,
            definition_id="baugb-3-2" if n < 5 else "buergerrat",
            started_at=at(n),
        )
        if n < 3:
            await seeder.phase(
                pid,
                "hearing",
                "hearing",
                start=date(2026, 11, 10),
                end=date(2026, 12, 10),
                at=at(n + 1),
            )
    everything = await readmodel.list_procedures(db_pool, page=PageRequest(1, 3))
    assert everything.total == 7
    assert everything.pages == 3
    assert [p.procedure_id for p in everything.items] == ["p-6", "p-5", "p-4"]
    last = await readmodel.list_procedures(db_pool, page=PageRequest(3, 3))
    assert [p.procedure_id for p in last.items] == ["p-0"]
    assert not last.has_next
    hd = await readmodel.list_procedures(db_pool, ProcedureFilters(municipality=HD))
    assert {p.procedure_id for p in hd.items} == {"p-0", "p-1", "p-2", "p-3"}
    hearing = await readmodel.list_procedures(db_pool, ProcedureFilters(phase="hearing"))
    assert {p.procedure_id for p in hearing.items} == {"p-0", "p-1", "p-2"}
    rat = await readmodel.list_procedures(db_pool, ProcedureFilters(kind="buergerrat"))
    assert {p.procedure_id for p in rat.items} == {"p-5", "p-6"}
    radweg = await readmodel.list_procedures(db_pool, ProcedureFilters(query="RADWEG"))
    assert {p.procedure_id for p in radweg.items} == {"p-1", "p-3", "p-5"}
    wildcard = await readmodel.list_procedures(db_pool, ProcedureFilters(query="%"))
    assert wildcard.total == 0  # a % is a character, not a wildcard
    both = await readmodel.list_procedures(
        db_pool, ProcedureFilters(municipality=HD, phase="hearing", query="spiel")
    )
    assert {p.procedure_id for p in both.items} == {"p-0", "p-2"}
    assert await readmodel.municipalities(db_pool) == [HD, MA]


async def test_completed_procedure_has_no_current_phase(
    seeder: Seeder, db_pool: asyncpg.Pool
) -> None:
    await _bplan(seeder)
    await seeder.event(
        "proc-bplan",
        "procedure.completed",
        {"reason": "done", "counts": {}},
        at=at(60),
        phase_id="hearing",
    )
    detail = await readmodel.get_procedure(db_pool, "proc-bplan")
    assert detail is not None
    assert detail.summary.state == "completed"
    assert detail.current is None
    assert detail.end_reason == "done"
    assert detail.ended_at == at(60)
    assert all(v.ended_at is not None for v in detail.visits)
    running = await readmodel.list_procedures(db_pool, ProcedureFilters(phase="hearing"))
    assert running.total == 0
    done = await readmodel.list_procedures(db_pool, ProcedureFilters(state="completed"))
    assert done.total == 1


async def test_detail_timeline_counts_decisions(seeder: Seeder, db_pool: asyncpg.Pool) -> None:
    pid = "proc-bplan"
    await _bplan(seeder, pid)
    author = await seeder.participant(pid, "a", name="Erika Mustermann", email="erika@example.org")
    await seeder.statements(
        pid, "hearing", ["objection", "objection", "suggestion"], at=at(9), author=author
    )
    await seeder.statements(pid, "hearing", ["question"], at=at(40), late=True)
    await seeder.end_phase(pid, "hearing", at=at(45))
    await seeder.phase(
        pid, "weighing", "deliberation", start=date(2026, 12, 18), end=None, at=at(46)
    )
    await seeder.end_phase(pid, "weighing", at=at(50), reason="moderator_decision")
    await seeder.phase(
        pid,
        "hearing",
        "hearing",
        start=date(2027, 1, 4),
        end=date(2027, 1, 18),
        at=at(51),
        round_=2,
        visit=2,
        limited_to="affected",
    )
    await seeder.statements(pid, "hearing", ["objection"], at=at(52), round_=2)
    did = await seeder.decision(pid, "d1", title="Satzungsbeschluss", outcome="adopted", at=at(53))
    detail = await readmodel.get_procedure(db_pool, pid)
    assert detail is not None
    assert [(v.phase_id, v.round, v.visit) for v in detail.visits] == [
        ("announcement", 1, 1),
        ("hearing", 1, 1),
        ("weighing", 1, 1),
        ("hearing", 2, 2),
    ]
    first_hearing = detail.visits[1]
    assert first_hearing.planned_end == date(2026, 12, 10)
    assert first_hearing.period_end == date(2026, 12, 17)
    assert first_hearing.extensions == 1
    assert first_hearing.end_reason == "deadline"
    assert detail.current is not None
    assert detail.current.limited_to == "affected"
    statuses = {p.phase_id: p.status for p in detail.phases}
    assert statuses == {
        "announcement": "done",
        "hearing": "current",
        "weighing": "done",
        "decision": "upcoming",
    }
    hearing = next(p for p in detail.phases if p.phase_id == "hearing")
    assert hearing.duration == "one_month_min_30_days"
    assert hearing.participation.channels == ("online", "post", "email", "in_person")
    assert hearing.participation.preclusion_warning
    assert [(c.round, c.total, c.late) for c in detail.statement_counts] == [(1, 4, 1), (2, 1, 0)]
    assert detail.statement_counts[0].by_type == (
        ("objection", 2),
        ("question", 1),
        ("suggestion", 1),
    )
    assert [(d.decision_id, d.outcome) for d in detail.decisions] == [(did, "adopted")]
    assert detail.decisions[0].body_title is not None
    assert detail.decisions[0].body_title.de == "Gemeinderat"
    assert [(e.from_date, e.to_date, e.reason) for e in detail.extensions] == [
        (date(2026, 12, 10), date(2026, 12, 17), "Ferien")
    ]
    assert any(d.url and "gesetze-im-internet.de" in d.url for d in detail.documents)


async def test_unknown_procedure_is_none(db_pool: asyncpg.Pool) -> None:
    assert await readmodel.get_procedure(db_pool, "nope") is None


async def test_commitment_status_is_derived_from_due_date(
    seeder: Seeder, db_pool: asyncpg.Pool
) -> None:
    pid = "proc-bplan"
    await _bplan(seeder, pid)
    today = date(2027, 3, 1)
    late = await seeder.commitment(pid, "late", title="Bügel", due=date(2027, 2, 1), at=at(60))
    fine = await seeder.commitment(
        pid,
        "fine",
        title="Ampel",
        due=date(2027, 6, 1),
        at=at(60),
        owner_role="administration",
        organisation="Tiefbauamt",
    )
    done = await seeder.commitment(pid, "done", title="Bank", due=date(2027, 1, 1), at=at(60))
    await seeder.progress(
        pid, fine, "r1", status="in_progress", percent=40, at=at(70), reporter="someone-private"
    )
    await seeder.progress(pid, done, "r2", status="done", percent=100, at=at(80))
    page = await readmodel.list_commitments(db_pool, today=today)
    by_id = {c.commitment_id: c for c in page.items}
    assert by_id[late].public_status == "overdue"
    assert by_id[fine].public_status == "on_track"
    assert by_id[fine].progress_percent == 40
    assert by_id[done].public_status == "done"
    owner = by_id[fine].owner_role_title
    assert owner is not None
    assert owner.de == "Planungsamt"
    assert [c.commitment_id for c in page.items] == [done, late, fine]  # by due date
    overdue = await readmodel.list_commitments(
        db_pool, CommitmentFilters(status="overdue"), today=today
    )
    assert [c.commitment_id for c in overdue.items] == [late]
    assert overdue.total == 1
    org = await readmodel.list_commitments(
        db_pool, CommitmentFilters(organisation="tiefbau"), today=today
    )
    assert [c.commitment_id for c in org.items] == [fine]
    earlier = await readmodel.list_commitments(db_pool, today=date(2026, 12, 1))
    assert {c.public_status for c in earlier.items} == {"on_track", "done"}
    exported = [c async for c in readmodel.iter_commitments(db_pool, today=today)]
    assert len(exported) == 3


async def test_review_reports(seeder: Seeder, db_pool: asyncpg.Pool) -> None:
    pid = "proc-bplan"
    await _bplan(seeder, pid)
    cid = await seeder.commitment(pid, "c", title="Bügel", due=date(2027, 2, 1), at=at(60))
    await seeder.event(
        pid,
        "review.published",
        {"phase_id": "decision", "cycle": 1, "commitments": {cid: "overdue"}},
        at=at(90),
        phase_id="decision",
    )
    page = await readmodel.list_review_reports(db_pool)
    (report,) = page.items
    assert report.cycle == 1
    assert report.count("overdue") == 1
    assert report.entries[0].title == "Bügel"
    detail = await readmodel.get_procedure(db_pool, pid)
    assert detail is not None
    assert len(detail.review_reports) == 1


async def test_deadlines_and_recent_items(seeder: Seeder, db_pool: asyncpg.Pool) -> None:
    await _bplan(seeder, "a")
    await seeder.procedure("b", title="Quartier", municipality=MA, started_at=at(1))
    await seeder.phase(
        "b", "hearing", "hearing", start=date(2026, 11, 4), end=date(2026, 11, 30), at=at(2)
    )
    deadlines = await readmodel.list_deadlines(db_pool, procedure_id="a")
    assert [(d.phase_id, d.period_end, d.extensions) for d in deadlines] == [
        ("announcement", date(2026, 11, 9), 0),
        ("hearing", date(2026, 12, 17), 1),
    ]
    assert deadlines[1].updated_at == at(20)
    ma = await readmodel.list_deadlines(db_pool, municipality=MA)
    assert [d.procedure_id for d in ma] == ["b"]
    upcoming = await readmodel.list_deadlines(db_pool, since=date(2026, 12, 1))
    assert [d.procedure_id for d in upcoming] == ["a"]
    await seeder.decision("a", "d", title="Beschluss", outcome="adopted", at=at(30))
    items = await readmodel.recent_items(db_pool, limit=10)
    assert [(i.kind, i.procedure_id) for i in items] == [
        ("decision", "a"),
        ("procedure", "b"),
        ("procedure", "a"),
    ]
    assert items[0].extra["outcome"] == "adopted"
    with pytest.raises(ValueError, match="limit"):
        await readmodel.recent_items(db_pool, limit=0)


async def test_rebuild_matches_trigger(seeder: Seeder, db_pool: asyncpg.Pool) -> None:
    await _bplan(seeder)
    query = "SELECT * FROM public_phase_periods ORDER BY procedure_id, seq"
    before = [dict(r) for r in await db_pool.fetch(query)]
    status = [dict(r) for r in await db_pool.fetch("SELECT * FROM public_procedure_status")]
    await db_pool.execute("SELECT public_read_model_rebuild()")
    assert [dict(r) for r in await db_pool.fetch(query)] == before
    assert [dict(r) for r in await db_pool.fetch("SELECT * FROM public_procedure_status")] == status


async def test_a_bad_event_never_blocks_the_audit_log(
    seeder: Seeder, db_pool: asyncpg.Pool
) -> None:
    await seeder.procedure("x", title="X")
    await seeder.event(
        "x",
        "phase.changed",
        {"phase_id": "hearing", "phase_type": "hearing", "period_start": "not a date"},
        at=at(1),
        phase_id="hearing",
    )
    count = await db_pool.fetchval("SELECT count(*) FROM events WHERE procedure_id = 'x'")
    assert count >= 3  # procedure.recorded, procedure.started, phase.changed
    detail = await readmodel.get_procedure(db_pool, "x")
    assert detail is not None
    assert detail.visits == ()


def test_page_request_validates() -> None:
    with pytest.raises(ValueError, match="page: expected"):
        PageRequest(0)
    with pytest.raises(ValueError, match="page_size: expected"):
        PageRequest(1, 101)
