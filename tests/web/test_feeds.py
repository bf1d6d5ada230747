"""iCalendar and Atom feeds through the real app over real PostgreSQL.

The calendars are parsed with icalendar, the Atom documents with the standard library's XML
parser; the data is written by the real storage activities (`tests.web.site`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import icalendar
import pytest

from activities.records import stable_id
from tests.web.site import HEIDELBERG, MANNHEIM, PERSONAL, SeededSite, seed_site, site_client
from worker.web.i18n import format_date
from worker.web.readmodel import today_in_berlin

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
async def site(db_pool: asyncpg.Pool) -> SeededSite:
    return await seed_site(db_pool, today_in_berlin())


@pytest.fixture
async def client(db_pool: asyncpg.Pool, site: SeededSite) -> AsyncIterator[httpx.AsyncClient]:
    async with site_client(db_pool) as http:
        yield http


async def _calendar(client: httpx.AsyncClient, path: str) -> icalendar.Calendar:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return icalendar.Calendar.from_ical(response.content)


def _events(calendar: icalendar.Calendar) -> list[icalendar.Event]:
    return [e for e in calendar.walk("VEVENT") if isinstance(e, icalendar.Event)]


def _by_category(calendar: icalendar.Calendar) -> dict[str, icalendar.Event]:
    return {str(e.categories[0]): e for e in _events(calendar)}


def _sequence(event: icalendar.Event) -> int:
    return int(str(event["SEQUENCE"]))


async def test_procedure_calendar_has_one_all_day_event_per_deadline(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    p = site.weststadt
    calendar = await _calendar(client, f"/procedures/{p.procedure_id}/deadlines.ics")
    assert str(calendar["VERSION"]) == "2.0"
    assert p.title in str(calendar["X-WR-CALNAME"])
    events = _by_category(calendar)
    # announcement and hearing have deadlines; weighing and resolution end by decision
    assert set(events) == {"invitation", "hearing"}
    hearing = events["hearing"]
    start, end = hearing.decoded("DTSTART"), hearing.decoded("DTEND")
    assert type(start) is date  # all-day: the law counts whole Berlin days
    assert start == p.deadlines["hearing"]
    assert end == start + timedelta(days=1)
    assert str(hearing["SUMMARY"]).startswith("Letzter Tag für Stellungnahmen")
    assert _sequence(hearing) == 1  # extended once
    planned = format_date(p.deadlines["hearing"] - timedelta(days=14), "de")  # "5. August 2026"
    assert f"ursprünglich bis {planned}" in str(hearing["DESCRIPTION"])
    assert str(hearing["URL"]) == f"http://site.test/procedures/{p.procedure_id}"
    assert str(hearing["TRANSP"]) == "TRANSPARENT"
    assert hearing.decoded("DTSTAMP").tzinfo is not None
    assert len({str(e["UID"]) for e in _events(calendar)}) == 2
    assert not list(calendar.walk("VALARM"))


async def test_an_extension_updates_the_same_event(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    p = site.bahnstadt
    path = f"/procedures/{p.procedure_id}/deadlines.ics"
    before = _by_category(await _calendar(client, path))["hearing"]
    assert _sequence(before) == 0
    old_end = p.deadlines["hearing"]
    new_end = old_end + timedelta(days=10)
    extended_at = datetime.now(UTC).replace(microsecond=0)
    await site.seeder.extend(p.procedure_id, "hearing", old_end, new_end, at=extended_at)
    after_calendar = await _calendar(client, path)
    after = _by_category(after_calendar)["hearing"]
    assert str(after["UID"]) == str(before["UID"])  # calendar apps update, not duplicate
    assert _sequence(after) == 1
    assert after.decoded("DTSTART") == new_end
    assert after.decoded("DTSTAMP") == extended_at
    assert after.decoded("LAST-MODIFIED") == extended_at
    assert after.decoded("DTSTAMP") > before.decoded("DTSTAMP")
    assert len(_events(after_calendar)) == 2


async def test_alarm_and_language_options(client: httpx.AsyncClient, site: SeededSite) -> None:
    path = f"/procedures/{site.bahnstadt.procedure_id}/deadlines.ics?alarm_days=3&lang=en"
    calendar = await _calendar(client, path)
    hearing = _by_category(calendar)["hearing"]
    assert str(hearing["SUMMARY"]).startswith("Last day for statements")
    alarms = list(hearing.walk("VALARM"))
    assert len(alarms) == 1
    assert str(alarms[0]["ACTION"]) == "DISPLAY"
    assert alarms[0].decoded("TRIGGER") == -timedelta(days=3)
    assert str(calendar["X-WR-CALNAME"]).startswith("Deadlines")


async def test_municipality_calendar(client: httpx.AsyncClient, site: SeededSite) -> None:
    calendar = await _calendar(client, f"/municipalities/{HEIDELBERG}/deadlines.ics")
    urls = {str(e["URL"]).rsplit("/", 1)[1] for e in _events(calendar)}
    assert urls == {site.weststadt.procedure_id, site.bahnstadt.procedure_id}
    assert len(_events(calendar)) == 4
    one_procedure = await _calendar(
        client, f"/procedures/{site.weststadt.procedure_id}/deadlines.ics"
    )
    hearing_uid = str(_by_category(one_procedure)["hearing"]["UID"])
    assert hearing_uid in {str(e["UID"]) for e in _events(calendar)}  # same event, both feeds
    recent = await _calendar(
        client, f"/municipalities/{HEIDELBERG}/deadlines.ics?since={site.today.isoformat()}"
    )
    assert [e.decoded("DTSTART") for e in _events(recent)] == [site.bahnstadt.deadlines["hearing"]]
    mannheim = await _calendar(client, f"/municipalities/{MANNHEIM}/deadlines.ics")
    assert {str(e["SUMMARY"]).split(": ", 1)[1] for e in _events(mannheim)} == {
        site.neckarstadt.title
    }
    nobody = await _calendar(client, "/municipalities/01001000/deadlines.ics")
    assert _events(nobody) == []


def _atom(response: httpx.Response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    return ET.fromstring(response.content)  # noqa: S314 (our own server's output)


async def test_atom_feed_of_new_procedures_and_decisions(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    feed = _atom(await client.get("/feeds/atom.xml"))
    assert feed.tag == f"{ATOM}feed"
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == "http://site.test/feeds/atom.xml"
    assert "dl-de/by-2-0" in (feed.findtext(f"{ATOM}rights") or "")
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") or "" for e in entries]
    assert len(entries) == 4  # three procedures and one decision
    assert "Beschluss: Satzungsbeschluss Bebauungsplan Nr. 61.32" in titles
    assert f"Neues Verfahren: {site.neckarstadt.title}" in titles
    updated = [datetime.fromisoformat(e.findtext(f"{ATOM}updated") or "") for e in entries]
    assert updated == sorted(updated, reverse=True)
    assert datetime.fromisoformat(feed.findtext(f"{ATOM}updated") or "") == updated[0]
    ids = [e.findtext(f"{ATOM}id") or "" for e in entries]
    assert len(set(ids)) == 4
    assert all(i.startswith("urn:uuid:") for i in ids)
    decision = entries[titles.index("Beschluss: Satzungsbeschluss Bebauungsplan Nr. 61.32")]
    link = decision.find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == (
        f"http://site.test/procedures/{site.weststadt.procedure_id}"
        f"#decision-{site.weststadt.decision_ids[0]}"
    )
    again = _atom(await client.get("/feeds/atom.xml"))
    assert [e.findtext(f"{ATOM}id") for e in again.findall(f"{ATOM}entry")] == ids  # stable


async def test_atom_feed_of_one_municipality(client: httpx.AsyncClient, site: SeededSite) -> None:
    feed = _atom(await client.get(f"/feeds/atom.xml?municipality={MANNHEIM}&lang=en"))
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        f"New procedure: {site.neckarstadt.title}"
    ]
    assert MANNHEIM in (feed.findtext(f"{ATOM}title") or "")
    all_ids = {
        e.findtext(f"{ATOM}id")
        for e in _atom(await client.get("/feeds/atom.xml")).findall(f"{ATOM}entry")
    }
    assert entries[0].findtext(f"{ATOM}id") in all_ids  # the same entry in both feeds


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/procedures/{pid}/deadlines.ics?alarm_days=-1", "alarm_days: "),
        ("/procedures/{pid}/deadlines.ics?alarm_days=99", "alarm_days: "),
        ("/procedures/{pid}/deadlines.ics?lang=fr", "lang: "),
        ("/procedures/{pid}/deadlines.ics?since=2026-01-01", "since: unknown query parameter"),
        ("/municipalities/Heidelberg/deadlines.ics", "ags: expected an AGS key"),
        ("/municipalities/08221000/deadlines.ics?since=yesterday", "since: expected a date"),
        ("/feeds/atom.xml?municipality=123", "municipality: expected an AGS key"),
        ("/feeds/atom.xml?format=rss", "format: unknown query parameter"),
    ],
)
async def test_bad_parameters_are_refused_with_a_message(
    client: httpx.AsyncClient, site: SeededSite, path: str, message: str
) -> None:
    response = await client.get(path.format(pid=site.weststadt.procedure_id))
    assert response.status_code == 400
    assert response.text.startswith(f"400 Bad Request: {message}")


async def test_unknown_procedure_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/procedures/procedure-00000000-nothing/deadlines.ics")
    assert response.status_code == 404
    assert "procedure-00000000-nothing" in response.text


async def test_nothing_personal_in_any_feed(client: httpx.AsyncClient, site: SeededSite) -> None:
    participant_ids = [
        stable_id(site.weststadt.procedure_id, "participant", key)
        for key in ("resident-1", "resident-2")
    ]
    paths = [
        *(f"/procedures/{p.procedure_id}/deadlines.ics" for p in site.procedures),
        f"/municipalities/{HEIDELBERG}/deadlines.ics",
        "/feeds/atom.xml",
        f"/feeds/atom.xml?municipality={HEIDELBERG}",
    ]
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200
        for secret in (*PERSONAL, *participant_ids, "Frischluftschneise", "Ferien"):
            assert secret not in response.text, (path, secret)


async def test_a_cancelled_procedure_cancels_its_open_deadline(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    p = site.bahnstadt
    path = f"/procedures/{p.procedure_id}/deadlines.ics"
    before = _by_category(await _calendar(client, path))
    cancelled_at = datetime.now(UTC).replace(microsecond=0)
    await site.seeder.event(
        p.procedure_id, "procedure.cancelled", {"reason": "Planung eingestellt"}, at=cancelled_at
    )
    after = _by_category(await _calendar(client, path))
    hearing = after["hearing"]
    assert str(hearing["UID"]) == str(before["hearing"]["UID"])
    assert str(hearing["STATUS"]) == "CANCELLED"
    assert _sequence(hearing) == _sequence(before["hearing"]) + 1
    assert hearing.decoded("DTSTAMP") == cancelled_at
    assert str(after["invitation"]["STATUS"]) == "CONFIRMED"  # it had passed already
    municipal = await _calendar(client, f"/municipalities/{HEIDELBERG}/deadlines.ics")
    statuses = {str(e["UID"]): str(e["STATUS"]) for e in _events(municipal)}
    assert statuses[str(hearing["UID"])] == "CANCELLED"


async def test_feeds_use_the_configured_municipality_names(
    db_pool: asyncpg.Pool, site: SeededSite
) -> None:
    names = {HEIDELBERG: "Heidelberg", MANNHEIM: "Mannheim"}
    async with site_client(db_pool, municipality_names=names) as http:
        calendar = await _calendar(http, f"/municipalities/{HEIDELBERG}/deadlines.ics")
        feed = _atom(await http.get(f"/feeds/atom.xml?municipality={MANNHEIM}"))
    assert str(calendar["X-WR-CALNAME"]) == "Fristen: Heidelberg"
    assert feed.findtext(f"{ATOM}title") == "Neue Verfahren und Beschlüsse in Mannheim"


async def test_pollers_get_304_until_something_changes(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    for path in (f"/procedures/{site.bahnstadt.procedure_id}/deadlines.ics", "/feeds/atom.xml"):
        first = await client.get(path)
        etag = first.headers["etag"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        other = await client.get(path, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200
    path = f"/procedures/{site.bahnstadt.procedure_id}/deadlines.ics"
    etag = (await client.get(path)).headers["etag"]
    end = site.bahnstadt.deadlines["hearing"]
    await site.seeder.extend(
        site.bahnstadt.procedure_id, "hearing", end, end + timedelta(days=7),
        at=datetime.now(UTC),
    )  # fmt: skip
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
