"""A realistic public site: three procedures in two municipalities, dated around today.

Built on `tests.web.seed.Seeder` (the real storage activities, so the read model sees what a
running procedure writes). Used by the feed and export tests, the browser tests and the
README screenshots; every date is relative to `today`, so there is always one running hearing
with its deadline ahead, one extended deadline and one overdue commitment.

- Heidelberg, BauGB § 3(2) "Südliche Weststadt": announcement, hearing (extended once),
  weighing; now in the council-resolution phase with a decision and three commitments (done,
  in progress, overdue). Statements come from a participant whose name, e-mail and address
  (`PERSONAL_*`) must never appear on the site, in a feed or in an export.
- Heidelberg, BauGB § 3(2) "Bahnstadt Ost": the hearing runs, its deadline is ahead.
- Mannheim, neighbourhood dialogue "Neckarstadt-West": the ideas phase runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx

from definitions.calendar import deadline_instant
from tests.web.seed import Seeder
from worker.web.app import create_app
from worker.web.exports import OpenDataSettings
from worker.web.settings import WebSettings

__all__ = [
    "HEIDELBERG",
    "MANNHEIM",
    "PERSONAL",
    "SeededProcedure",
    "SeededSite",
    "seed_site",
    "site_client",
]

HEIDELBERG = "08221000"
MANNHEIM = "08222000"
PERSONAL_NAME = "Erika Mustermann-Privat"
PERSONAL_EMAIL = "erika.privat@example.org"
PERSONAL = (PERSONAL_NAME, PERSONAL_EMAIL, "max.privat@example.org", "Max Nachbar-Privat")
"""Strings that identify participants; none may appear in any public output."""


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


@dataclass
class SeededProcedure:
    procedure_id: str
    title: str
    municipality: str
    definition_id: str
    current_phase: str
    deadlines: dict[str, date] = field(default_factory=dict)  # phase id -> last day (latest)
    decision_ids: list[str] = field(default_factory=list)
    commitment_ids: dict[str, str] = field(default_factory=dict)  # label -> commitment id
    statements: int = 0


@dataclass
class SeededSite:
    seeder: Seeder  # continues the procedures' event numbering (e.g. a later extension)
    today: date
    weststadt: SeededProcedure
    bahnstadt: SeededProcedure
    neckarstadt: SeededProcedure

    @property
    def procedures(self) -> list[SeededProcedure]:
        return [self.weststadt, self.bahnstadt, self.neckarstadt]


async def _weststadt(s: Seeder, today: date) -> SeededProcedure:
    p = SeededProcedure(
        procedure_id=f"procedure-{HEIDELBERG}-b-plan-61-32",
        title="Bebauungsplan Nr. 61.32 „Südliche Weststadt“",
        municipality=HEIDELBERG,
        definition_id="baugb-3-2",
        current_phase="decision",
    )
    pid = p.procedure_id
    started = today - timedelta(days=150)
    await s.procedure(pid, title=p.title, municipality=HEIDELBERG, started_at=_at(started, 7))
    announce_end = started + timedelta(days=6)
    await s.phase(
        pid, "announcement", "invitation", start=started, end=announce_end, at=_at(started, 7)
    )
    await s.end_phase(pid, "announcement", at=deadline_instant(announce_end))
    first = announce_end + timedelta(days=1)
    planned_end = first + timedelta(days=31)
    await s.phase(pid, "hearing", "hearing", start=first, end=planned_end, at=_at(first, 0))
    resident = await s.participant(pid, "resident-1", name=PERSONAL_NAME, email=PERSONAL_EMAIL)
    other = await s.participant(
        pid, "resident-2", name="Max Nachbar-Privat", email="max.privat@example.org"
    )
    await s.statements(
        pid,
        "hearing",
        ["objection", "suggestion"],
        at=_at(first + timedelta(3)),
        author=resident,
        text="Die Frischluftschneise muss frei bleiben.",
    )
    await s.statements(
        pid,
        "hearing",
        ["question"],
        at=_at(first + timedelta(4)),
        author=other,
        text="Wie viele geförderte Wohnungen sind vorgesehen?",
    )
    extended_end = planned_end + timedelta(days=14)
    await s.extend(pid, "hearing", planned_end, extended_end, at=_at(planned_end - timedelta(5)))
    await s.statements(
        pid,
        "hearing",
        ["objection"],
        at=_at(planned_end + timedelta(2)),
        author=resident,
        text="Der Baumbestand im Innenhof ist zu erhalten.",
    )
    p.statements = 4
    p.deadlines = {"announcement": announce_end, "hearing": extended_end}
    await s.end_phase(pid, "hearing", at=deadline_instant(extended_end))
    weighing = extended_end + timedelta(days=1)
    await s.phase(pid, "weighing", "deliberation", start=weighing, end=None, at=_at(weighing, 0))
    await s.end_phase(
        pid, "weighing", at=_at(weighing + timedelta(40)), reason="moderator_decision"
    )
    resolution = weighing + timedelta(days=41)
    await s.phase(pid, "decision", "commitment", start=resolution, end=None, at=_at(resolution))
    decided = _at(resolution + timedelta(days=2), 17)
    p.decision_ids.append(
        await s.decision(
            pid,
            "satzungsbeschluss",
            outcome="adopted",
            at=decided,
            title="Satzungsbeschluss Bebauungsplan Nr. 61.32",
        )
    )
    trees = await s.commitment(
        pid,
        "trees",
        title="Baumbestand im Innenhof sichern",
        due=today - timedelta(days=5),
        at=decided,
        owner_role="administration",
        organisation="Stadt Heidelberg, Amt für Umweltschutz",
        aim="Alle 14 Bäume im Innenhof bleiben erhalten; Ersatzpflanzung 1:2 bei Abgang.",
    )
    bike = await s.commitment(
        pid,
        "bike",
        title="Radverbindung zur Bergheimer Straße planen",
        due=today + timedelta(days=60),
        at=decided,
        owner_role="administration",
        organisation="Stadt Heidelberg, Amt für Verkehrsmanagement",
        aim="Die Entwurfsplanung liegt dem Bauausschuss vor.",
    )
    housing = await s.commitment(
        pid,
        "housing",
        title="Geförderten Wohnraum schaffen",
        due=today - timedelta(days=1),
        at=decided,
        owner_role="council",
        organisation="GGH Heidelberg",
        aim="30 % der Wohnungen mietpreisgebunden.",
    )
    p.commitment_ids = {"trees": trees, "bike": bike, "housing": housing}
    await s.progress(
        pid, trees, "trees-1", status="done", percent=100, at=decided + timedelta(days=10)
    )
    await s.progress(
        pid, bike, "bike-1", status="in_progress", percent=40, at=decided + timedelta(days=12)
    )
    await s.progress(
        pid,
        housing,
        "housing-1",
        status="in_progress",
        percent=10,
        at=decided + timedelta(days=20),
        reporter=resident,
    )
    return p


async def _bahnstadt(s: Seeder, today: date) -> SeededProcedure:
    p = SeededProcedure(
        procedure_id=f"procedure-{HEIDELBERG}-b-plan-61-40",
        title="Bebauungsplan Nr. 61.40 „Bahnstadt Ost“",
        municipality=HEIDELBERG,
        definition_id="baugb-3-2",
        current_phase="hearing",
    )
    pid = p.procedure_id
    started = today - timedelta(days=20)
    await s.procedure(pid, title=p.title, municipality=HEIDELBERG, started_at=_at(started, 8))
    announce_end = started + timedelta(days=6)
    await s.phase(
        pid, "announcement", "invitation", start=started, end=announce_end, at=_at(started, 8)
    )
    await s.end_phase(pid, "announcement", at=deadline_instant(announce_end))
    first = announce_end + timedelta(days=1)
    hearing_end = first + timedelta(days=31)
    await s.phase(pid, "hearing", "hearing", start=first, end=hearing_end, at=_at(first, 0))
    neighbour = await s.participant(
        pid, "n-1", name="Max Nachbar-Privat", email="max.privat@example.org"
    )
    await s.statements(
        pid,
        "hearing",
        ["question"],
        at=_at(first + timedelta(1)),
        author=neighbour,
        text="Wird die Straßenbahn verlängert?",
    )
    p.statements = 1
    p.deadlines = {"announcement": announce_end, "hearing": hearing_end}
    return p


async def _neckarstadt(s: Seeder, today: date) -> SeededProcedure:
    p = SeededProcedure(
        procedure_id=f"procedure-{MANNHEIM}-quartiersdialog-neckarstadt-west",
        title="Quartiersdialog Neckarstadt-West",
        municipality=MANNHEIM,
        definition_id="quartiersdialog",
        current_phase="ideas",
    )
    pid = p.procedure_id
    started = today - timedelta(days=30)
    await s.procedure(
        pid,
        title=p.title,
        definition_id="quartiersdialog",
        municipality=MANNHEIM,
        started_at=_at(started, 8),
    )
    kickoff_end = started + timedelta(days=13)
    await s.phase(pid, "kickoff", "invitation", start=started, end=kickoff_end, at=_at(started, 8))
    await s.end_phase(pid, "kickoff", at=deadline_instant(kickoff_end))
    ideas = kickoff_end + timedelta(days=1)
    ideas_end = ideas + timedelta(days=41)
    await s.phase(pid, "ideas", "hearing", start=ideas, end=ideas_end, at=_at(ideas, 0))
    await s.statements(
        pid,
        "ideas",
        ["idea", "idea"],
        at=_at(ideas + timedelta(2)),
        text="Mehr Bänke und Schatten auf dem Neumarkt.",
    )
    p.statements = 2
    p.deadlines = {"kickoff": kickoff_end, "ideas": ideas_end}
    return p


async def seed_site(pool: asyncpg.Pool, today: date) -> SeededSite:
    """Write the three procedures; `today` is the Berlin date the pages will be read on."""
    seeder = Seeder(pool)
    return SeededSite(
        seeder=seeder,
        today=today,
        weststadt=await _weststadt(seeder, today),
        bahnstadt=await _bahnstadt(seeder, today),
        neckarstadt=await _neckarstadt(seeder, today),
    )


@contextlib.asynccontextmanager
async def site_client(
    pool: asyncpg.Pool, *, open_data: OpenDataSettings | None = None, **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the real app over `pool` (its lifespan runs, as under uvicorn)."""
    app = create_app(WebSettings(**settings), pool=pool, open_data=open_data)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://site.test") as client,
    ):
        yield client


async def seed_review_procedure(site: SeededSite) -> SeededProcedure:
    """A fourth procedure, for the browser tests: a Heidelberg neighbourhood dialogue in its
    second yearly review, with commitments of a business and an association and the first
    review report published. Kept out of `seed_site`, whose three procedures other tests count.
    """
    s, today = site.seeder, site.today
    p = SeededProcedure(
        procedure_id=f"procedure-{HEIDELBERG}-quartiersdialog-emmertsgrund",
        title="Quartiersdialog Emmertsgrund",
        municipality=HEIDELBERG,
        definition_id="quartiersdialog",
        current_phase="yearly_review",
    )
    pid = p.procedure_id
    started = today - timedelta(days=600)
    await s.procedure(
        pid, title=p.title, definition_id="quartiersdialog", started_at=_at(started, 8)
    )
    plan = [  # phase, type, first day (days after start), last day (None: open-ended)
        ("kickoff", "invitation", 0, 13),
        ("ideas", "hearing", 14, 55),
        ("workshops", "deliberation", 56, 146),
        ("commitments", "commitment", 147, 207),
        ("yearly_review", "review", 208, 572),
    ]
    for phase_id, phase_type, first, last in plan:
        start, end = started + timedelta(days=first), started + timedelta(days=last)
        await s.phase(pid, phase_id, phase_type, start=start, end=end, at=_at(start, 0))
        if phase_id == "ideas":
            await s.statements(pid, "ideas", ["idea", "problem", "idea"], at=_at(start, 10))
        if phase_id == "commitments":
            made = _at(start + timedelta(days=30), 17)
            playground = await s.commitment(
                pid,
                "playground",
                title="Spielplatz am Forum sanieren",
                due=start + timedelta(days=300),
                at=made,
                owner_role="business",
                organisation="Wohnungsbaugenossenschaft Emmertsgrund eG",
                aim="Neue Geräte und Beleuchtung, abgenommen vom TÜV.",
                phase_id="commitments",
            )
            cafe = await s.commitment(
                pid,
                "cafe",
                title="Nachbarschaftscafé wöchentlich öffnen",
                due=today + timedelta(days=90),
                at=made,
                owner_role="civil_society",
                organisation="Stadtteilverein Emmertsgrund e.V.",
                aim="Mindestens 45 Öffnungstage im Jahr.",
                phase_id="commitments",
            )
            p.commitment_ids = {"playground": playground, "cafe": cafe}
        if phase_id == "yearly_review":
            await s.progress(pid, playground, "playground-1", status="done", percent=100,
                             at=_at(end - timedelta(days=60)), phase_id=phase_id)  # fmt: skip
            await s.progress(pid, cafe, "cafe-1", status="in_progress", percent=60,
                             at=_at(end - timedelta(days=30)), phase_id=phase_id)  # fmt: skip
        await s.end_phase(pid, phase_id, at=deadline_instant(end))
        p.deadlines[phase_id] = end
    review_end = started + timedelta(days=572)
    await s.event(
        pid,
        "review.published",
        {
            "phase_id": "yearly_review",
            "cycle": 1,
            "commitments": {playground: "done", cafe: "in_progress"},
        },
        at=deadline_instant(review_end),
        phase_id="yearly_review",
    )
    second = review_end + timedelta(days=1)
    second_end = started + timedelta(days=937)
    await s.phase(pid, "yearly_review", "review", start=second, end=second_end,
                  at=_at(second, 0), visit=2)  # fmt: skip
    p.deadlines["yearly_review"] = second_end
    p.statements = 3
    return p
