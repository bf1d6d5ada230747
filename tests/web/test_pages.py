"""The HTML pages over a seeded site: content, filters, pagination, languages, errors.

Real PostgreSQL (the test's own schema), data written by the storage activities, the real
app through httpx's ASGI transport. Every page also passes `check_page` (language, one h1,
landmarks, labels, table captions and scopes, <time datetime>).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.web.html_checks import check_page, text_of
from tests.web.site import HEIDELBERG, MANNHEIM, SeededSite, seed_site, site_client
from worker.web.app import SECURITY_HEADERS, create_app
from worker.web.readmodel import today_in_berlin
from worker.web.settings import WebSettings


@pytest.fixture
async def site(db_pool: asyncpg.Pool) -> SeededSite:
    return await seed_site(db_pool, today_in_berlin())


@pytest.fixture
async def client(db_pool: asyncpg.Pool, site: SeededSite) -> AsyncIterator[httpx.AsyncClient]:
    async with site_client(
        db_pool, municipality_names={HEIDELBERG: "Heidelberg", MANNHEIM: "Mannheim"}
    ) as client:
        yield client


async def get_page(
    client: httpx.AsyncClient,
    path: str,
    lang: str = "de",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> tuple[httpx.Response, Any]:
    response = await client.get(path, headers=headers)
    assert response.status_code == status, response.text[:2000]
    assert response.headers["content-type"].startswith("text/html")
    return response, check_page(response.text, lang)


def rows(doc: Any, table_id: str) -> list[str]:
    return [text_of(tr) for tr in doc.xpath(f"//table[@id='{table_id}']/tbody/tr")]


async def test_list_shows_every_procedure_with_phase_and_deadline(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    response, doc = await get_page(client, "/")
    assert "Vorhabenliste" in response.text
    table = rows(doc, "procedure-table")
    assert len(table) == 3
    bahnstadt = next(r for r in table if "Bahnstadt Ost" in r)
    assert "Veröffentlichung und Stellungnahmen" in bahnstadt
    assert "Heidelberg" in bahnstadt
    deadline = site.bahnstadt.deadlines["hearing"]
    assert doc.xpath(f"//table[@id='procedure-table']//time[@datetime='{deadline.isoformat()}']")
    assert text_of(doc.xpath("//p[@id='result-count']")[0]) == "3 Vorhaben"
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"municipality={MANNHEIM}", {"Neckarstadt-West"}),
        ("phase=hearing", {"Bahnstadt Ost", "Neckarstadt-West"}),
        ("phase=commitment", {"Südliche Weststadt"}),
        ("kind=quartiersdialog", {"Neckarstadt-West"}),
        ("q=bahnstadt", {"Bahnstadt Ost"}),
        (f"q=Bebauungsplan&municipality={HEIDELBERG}&phase=hearing", {"Bahnstadt Ost"}),
        ("state=completed", set()),
        ("municipality=&kind=&phase=&state=&q=", {"Bahnstadt", "Weststadt", "Neckarstadt"}),
    ],
)
async def test_filters(client: httpx.AsyncClient, query: str, expected: set[str]) -> None:
    _, doc = await get_page(client, f"/?{query}")
    found = rows(doc, "procedure-table")
    assert len(found) == len(expected)
    for title in expected:
        assert any(title in row for row in found), (title, found)
    if not expected:
        assert doc.xpath("//p[@id='no-results']")


async def test_filter_form_keeps_choices(client: httpx.AsyncClient) -> None:
    _, doc = await get_page(client, f"/?phase=hearing&municipality={HEIDELBERG}&q=Bahn")
    assert doc.xpath("//select[@id='filter-phase']/option[@selected]")[0].get("value") == "hearing"
    assert doc.xpath("//input[@id='filter-q']")[0].get("value") == "Bahn"
    selected = doc.xpath("//select[@id='filter-municipality']/option[@selected]")
    assert text_of(selected[0]) == "Heidelberg"


async def test_a_municipality_filter_offers_its_feeds(client: httpx.AsyncClient) -> None:
    _, unfiltered = await get_page(client, "/")
    assert not unfiltered.xpath("//ul[@id='municipality-feeds']")
    _, doc = await get_page(client, f"/?municipality={HEIDELBERG}")
    calendar = doc.xpath("//a[@id='municipality-calendar-link']")[0]
    assert calendar.get("href") == f"/municipalities/{HEIDELBERG}/deadlines.ics?lang=de"
    assert "Heidelberg" in text_of(calendar)
    atom = doc.xpath("//a[@id='municipality-atom-link']")[0].get("href")
    assert atom == f"/feeds/atom.xml?municipality={HEIDELBERG}&lang=de"
    for href in (calendar.get("href"), atom):
        assert (await client.get(href)).status_code == 200


async def test_pagination(db_pool: asyncpg.Pool, site: SeededSite) -> None:
    started = site.today - timedelta(days=400)
    for n in range(22):
        await site.seeder.procedure(
            f"extra-{n:02d}", title=f"Radweg {n:02d}", started_at=_instant(started, n)
        )
    async with site_client(db_pool) as client:
        _, first = await get_page(client, "/?page_size=10&q=Radweg")
        assert len(rows(first, "procedure-table")) == 10
        assert rows(first, "procedure-table")[0].startswith("Radweg 21")  # newest first
        nav = first.xpath("//nav[@id='pagination']")[0]
        assert "Seite 1 von 3" in text_of(nav)
        assert not nav.xpath(".//a[@rel='prev']")
        next_href = nav.xpath(".//a[@rel='next']")[0].get("href")
        assert "page=2" in next_href
        assert "q=Radweg" in next_href
        assert "page_size=10" in next_href
        _, last = await get_page(client, "/?page_size=10&q=Radweg&page=3")
        assert [r[:9] for r in rows(last, "procedure-table")] == ["Radweg 01", "Radweg 00"]
        assert not last.xpath("//nav[@id='pagination']//a[@rel='next']")
        _, beyond = await get_page(client, "/?page_size=10&q=Radweg&page=9")
        assert beyond.xpath("//p[@id='no-results']")


def _instant(start: date, n: int) -> datetime:
    return datetime.combine(start + timedelta(days=n), time(9), tzinfo=UTC)


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/?page=-1", "page"),
        ("/?page=abc", "page"),
        ("/?page=0", "page"),
        ("/?page_size=101", "page_size"),
        ("/?page_size=0", "page_size"),
        ("/?phase=anhoerung", "phase"),
        ("/?state=open", "state"),
        ("/?kind=nope", "kind"),
        ("/?municipality=Heidelberg", "municipality"),
        ("/?q=" + "x" * 201, "q"),
        ("/?lang=fr", "lang"),
        ("/commitments?status=late", "status"),
        ("/commitments?municipality=1", "municipality"),
        ("/commitments?page=-3", "page"),
        ("/reviews?page_size=1000", "page_size"),
        ("/procedures/x?lang=xx", "lang"),
    ],
)
async def test_bad_parameters_are_a_400_page_naming_them(
    client: httpx.AsyncClient, path: str, parameter: str
) -> None:
    response, doc = await get_page(client, path, status=400)
    assert text_of(doc.xpath("//dd[@id='error-parameter']")[0]) == parameter
    expected = text_of(doc.xpath("//dd[@id='error-expected']")[0])
    assert expected  # e.g. "an integer from 1 to 100", "one of invitation, hearing, ..."
    assert "Ungültige Anfrage" in text_of(doc.xpath("//h1")[0])
    assert response.headers["content-security-policy"]


async def test_expected_values_are_listed(client: httpx.AsyncClient) -> None:
    _, doc = await get_page(client, "/?phase=anhoerung", status=400)
    expected = text_of(doc.xpath("//dd[@id='error-expected']")[0])
    assert expected == "one of invitation, hearing, deliberation, commitment, review"
    _, doc = await get_page(client, "/?page_size=500", status=400)
    assert "from 1 to 100" in text_of(doc.xpath("//dd[@id='error-expected']")[0])


async def test_unknown_procedure_and_path_are_404_pages(client: httpx.AsyncClient) -> None:
    _response, doc = await get_page(client, "/procedures/procedure-00000000-nope", status=404)
    assert "procedure-00000000-nope" in text_of(doc.xpath("//p[@id='error-message']")[0])
    _, doc = await get_page(client, "/procedures/nope?lang=en", lang="en", status=404)
    assert "Page not found" in text_of(doc.xpath("//h1")[0])
    await get_page(client, "/no/such/page", status=404)


async def test_procedure_page(client: httpx.AsyncClient, site: SeededSite) -> None:
    west = site.weststadt
    _, doc = await get_page(client, f"/procedures/{west.procedure_id}")
    assert text_of(doc.xpath("//h1")[0]) == west.title
    assert "Satzungsbeschluss" in text_of(doc.xpath("//dd[@id='current-phase']")[0])
    statuses = [tr.get("data-status") for tr in doc.xpath("//table[@id='timeline-table']/tbody/tr")]
    assert statuses == ["done", "done", "done", "current"]
    timeline = " ".join(rows(doc, "timeline-table"))
    assert "ein Monat, mindestens 30 Tage" in timeline
    assert "verlängert" in timeline  # the hearing was extended once
    extended = west.deadlines["hearing"].isoformat()
    assert doc.xpath(f"//table[@id='timeline-table']//time[@datetime='{extended}']")
    assert len(doc.xpath("//ul[@id='extensions']/li")) == 1
    counts = rows(doc, "statement-table")
    assert counts == ["1 4 0 Einwendung: 2, Frage: 1, Anregung: 1"]
    decisions = doc.xpath("//section[@id='decisions']//article")
    assert len(decisions) == 1
    assert "beschlossen" in text_of(decisions[0])
    status = {r.split()[0]: r for r in rows(doc, "procedure-commitments")}
    assert len(status) == 3
    by_state = [
        tr.get("data-status") for tr in doc.xpath("//table[@id='procedure-commitments']/tbody/tr")
    ]
    assert sorted(by_state) == ["done", "on_track", "overdue"]
    assert doc.xpath("//section[@id='documents']//a[contains(@href, 'gesetze-im-internet.de')]")
    calendar = doc.xpath("//a[@id='calendar-link']")[0].get("href")
    assert calendar.startswith(f"/procedures/{west.procedure_id}/deadlines.ics")
    take_part = text_of(doc.xpath("//section[@id='take-part']")[0])
    assert "Derzeit ist keine Beteiligung möglich" in take_part  # the council decides now


async def test_how_to_take_part_in_a_running_hearing(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    _, doc = await get_page(client, f"/procedures/{site.bahnstadt.procedure_id}?lang=en", "en")
    take_part = text_of(doc.xpath("//section[@id='take-part']")[0])
    assert "You can take part until and including" in take_part
    assert "objection, suggestion, question" in take_part
    assert "by post" in take_part
    assert "BauGB s. 4a(6)" in take_part  # the preclusion warning of § 4a(6)
    assert rows(doc, "statement-table") == ["1 1 0 question: 1"]


async def test_participation_portal_link(db_pool: asyncpg.Pool, site: SeededSite) -> None:
    async with site_client(db_pool, participation_url="https://beteiligung.example.de/") as c:
        _, doc = await get_page(c, f"/procedures/{site.bahnstadt.procedure_id}")
    link = doc.xpath("//a[@id='participation-link']")[0]
    assert link.get("href") == "https://beteiligung.example.de"


async def test_language_choice(client: httpx.AsyncClient) -> None:
    response, doc = await get_page(client, "/?lang=en", "en")
    assert text_of(doc.xpath("//h1")[0]) == "List of procedures"
    assert response.headers["content-language"] == "en"
    switch = doc.xpath("//a[@id='lang-switch']")[0]
    assert switch.get("href") == "/?lang=de"
    assert switch.get("lang") == "de"
    assert "lang=en" in doc.xpath("//a[@id='nav-commitments']")[0].get("href")
    _, doc = await get_page(
        client, "/", "en", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"}
    )
    assert text_of(doc.xpath("//h1")[0]) == "List of procedures"
    assert doc.xpath("//a[@id='nav-commitments']")[0].get("href") == "/commitments"
    await get_page(client, "/", "de", headers={"Accept-Language": "fr-FR, de;q=0.8, en;q=0.5"})
    await get_page(client, "/", "de", headers={"Accept-Language": "fr"})
    await get_page(client, "/?lang=de", "de", headers={"Accept-Language": "en"})


async def test_commitments_tracker(client: httpx.AsyncClient, site: SeededSite) -> None:
    _, doc = await get_page(client, "/commitments")
    statuses = {
        tr.xpath("./th")[0].text_content().strip(): tr.get("data-status")
        for tr in doc.xpath("//table[@id='commitment-table']/tbody/tr")
    }
    assert statuses == {
        "Baumbestand im Innenhof sichern": "done",
        "Geförderten Wohnraum schaffen": "overdue",
        "Radverbindung zur Bergheimer Straße planen": "on_track",
    }
    table = " ".join(rows(doc, "commitment-table"))
    assert "Stadt Heidelberg, Amt für Umweltschutz" in table
    assert "Planungsamt" in table  # the owner role's title from the definition
    assert "40 %" in table
    _, overdue = await get_page(client, "/commitments?status=overdue")
    assert [r.split(" Bebauungsplan")[0] for r in rows(overdue, "commitment-table")] == [
        "Geförderten Wohnraum schaffen"
    ]
    _, by_org = await get_page(client, "/commitments?organisation=ggh")
    assert len(rows(by_org, "commitment-table")) == 1
    _, none = await get_page(client, f"/commitments?municipality={MANNHEIM}")
    assert none.xpath("//p[@id='no-results']")
    _, en = await get_page(client, "/commitments?lang=en&status=on_track", "en")
    assert "on track" in " ".join(rows(en, "commitment-table"))


async def test_review_reports(client: httpx.AsyncClient, site: SeededSite) -> None:
    _, empty = await get_page(client, "/reviews")
    assert empty.xpath("//p[@id='no-results']")
    west = site.weststadt
    ids = west.commitment_ids
    await site.seeder.event(
        west.procedure_id,
        "review.published",
        {
            "phase_id": "decision",
            "cycle": 1,
            "commitments": {ids["trees"]: "done", ids["housing"]: "overdue", ids["bike"]: "open"},
        },
        at=_instant(site.today, 0),
        phase_id="decision",
    )
    _, doc = await get_page(client, "/reviews")
    reports = doc.xpath("//div[@id='review-list']/article")
    assert len(reports) == 1
    assert "1 erledigt, 1 überfällig, 1 weitere" in text_of(reports[0])
    assert "Baumbestand im Innenhof sichern" in text_of(reports[0])
    _, page = await get_page(client, f"/procedures/{west.procedure_id}")
    assert page.xpath("//section[@id='reviews']//article")


async def test_no_personal_data_on_any_page(
    client: httpx.AsyncClient, site: SeededSite, db_pool: asyncpg.Pool
) -> None:
    participant_ids = [
        r["participant_id"] for r in await db_pool.fetch("SELECT participant_id FROM participants")
    ]
    personal = [
        v
        for r in await db_pool.fetch("SELECT name, email, address FROM participant_personal")
        for v in r.values()
        if v
    ]
    texts = [r["text"][:30] for r in await db_pool.fetch("SELECT text FROM statements")]
    assert participant_ids
    assert personal
    assert texts
    paths = ["/", "/commitments", "/reviews", "/?lang=en", "/commitments?lang=en"]
    paths += [f"/procedures/{p.procedure_id}" for p in site.procedures]
    paths += [f"/procedures/{p.procedure_id}?lang=en" for p in site.procedures]
    for path in paths:
        body = (await client.get(path)).text
        for secret in [*participant_ids, *personal, *texts]:
            assert secret not in body, f"{secret!r} appears on {path}"


async def test_healthz_and_stylesheet(client: httpx.AsyncClient) -> None:
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    css = await client.get("/static/site.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in css.text


async def test_database_trouble_is_a_500_page_and_unhealthy(
    database_url: str, db_schema: str
) -> None:
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=1, server_settings={"search_path": db_schema}
    )
    app = create_app(WebSettings(), pool=pool)
    await pool.close()  # the database went away under the running site
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://site.test") as client:
        response = await client.get("/")
        assert response.status_code == 500
        check_page(response.text, "de")
        assert "Interner Fehler" in response.text
        health = await client.get("/healthz")
        assert health.status_code == 503


async def test_public_base_url_is_used_for_absolute_links(
    db_pool: asyncpg.Pool, site: SeededSite
) -> None:
    async with site_client(db_pool, base_url="https://beteiligung.example.de") as client:
        response = await client.get("/feeds/atom.xml")
    assert response.status_code == 200
    assert "https://beteiligung.example.de/procedures/" in response.text
    assert "http://site.test" not in response.text
