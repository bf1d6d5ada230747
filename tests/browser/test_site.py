"""The public site in a real Chromium: what a citizen does, by mouse and by keyboard.

One seeded site (four procedures, `tests.browser.live`) is served by uvicorn on a real port;
every test opens a fresh browser context. Accessibility is checked with axe-core on every
main page: no violation of impact "serious" or "critical" (WCAG 2.1 AA, BITV 2.0).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import icalendar
import pytest
from axe_playwright_python.async_playwright import Axe  # type: ignore[import-untyped]
from playwright.async_api import Page, expect

from tests.browser.live import LiveSite
from tests.web.site import PERSONAL

pytestmark = pytest.mark.browser

AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}
BLOCKING = ("serious", "critical")


async def _loaded(page: Page, url: re.Pattern[str]) -> None:
    """Wait until the browser is on `url` and the new document has loaded."""
    await expect(page).to_have_url(url)
    await page.wait_for_load_state("load")


async def _rows(page: Page, table: str) -> list[str]:
    return await page.locator(f"#{table} tbody tr th").all_inner_texts()


async def test_list_filters_and_search_work_from_the_keyboard(
    page: Page, live_site: LiveSite
) -> None:
    site = live_site.site
    await page.goto("/")
    assert len(await _rows(page, "procedure-table")) == 4
    await page.locator("#filter-q").focus()
    await page.keyboard.type("Weststadt")
    await page.keyboard.press("Enter")  # submits the search form
    await _loaded(page, re.compile(r"/\?q=Weststadt&"))
    assert await _rows(page, "procedure-table") == [site.weststadt.title]
    await expect(page.locator("#filter-q")).to_have_value("Weststadt")  # the form keeps it

    await page.goto("/")
    await page.locator("#filter-municipality").select_option("08222000")
    await page.locator("#filter-submit").focus()
    await page.keyboard.press("Enter")
    await _loaded(page, re.compile(r"municipality=08222000"))
    assert await _rows(page, "procedure-table") == [site.neckarstadt.title]
    await expect(page.locator("#result-count")).to_contain_text("1")

    await page.goto("/")
    await page.locator("#filter-phase").select_option("hearing")
    await page.locator("#filter-submit").click()
    await _loaded(page, re.compile(r"phase=hearing"))
    assert sorted(await _rows(page, "procedure-table")) == sorted(
        [site.bahnstadt.title, site.neckarstadt.title]
    )


async def test_procedure_page_shows_timeline_current_phase_and_outcome(
    page: Page, live_site: LiveSite
) -> None:
    site = live_site.site
    await page.goto("/")
    await page.get_by_role("link", name=site.weststadt.title).click()
    await expect(page.locator("h1")).to_have_text(site.weststadt.title)
    await page.wait_for_load_state("load")
    await expect(page.locator("#current-phase")).to_contain_text("Satzungsbeschluss")
    timeline = page.locator("#timeline-table tbody tr")
    assert await timeline.count() == 4
    statuses = [await row.get_attribute("data-status") for row in await timeline.all()]
    assert statuses == ["done", "done", "done", "current"]
    await expect(page.locator("#timeline-table tr.current th")).to_contain_text("Satzungsbeschluss")
    hearing_end = site.weststadt.deadlines["hearing"].isoformat()
    await expect(page.locator(f"#timeline-table time[datetime='{hearing_end}']")).to_have_count(1)
    await expect(page.locator("#statement-table tbody td").first).to_have_text("4")
    await expect(page.locator("#decisions article h3")).to_have_text(
        "Satzungsbeschluss Bebauungsplan Nr. 61.32"
    )
    await expect(page.locator("#procedure-commitments tr[data-status='overdue']")).to_have_count(1)
    text = await page.locator("body").inner_text()
    for secret in PERSONAL:
        assert secret not in text
    assert "Frischluftschneise" not in text  # statements only as counts


async def test_commitments_tracker_shows_and_filters_the_overdue_one(
    page: Page, live_site: LiveSite
) -> None:
    await page.goto("/commitments")
    assert len(await _rows(page, "commitment-table")) == 5
    await expect(page.locator("#commitment-table")).to_contain_text(
        "Stadtteilverein Emmertsgrund e.V."  # an association's commitment, by organisation
    )
    await page.locator("#filter-status").select_option("overdue")
    await page.locator("#filter-submit").click()
    await _loaded(page, re.compile(r"status=overdue"))
    assert await _rows(page, "commitment-table") == ["Geförderten Wohnraum schaffen"]
    row = page.locator("#commitment-table tbody tr")
    await expect(row.locator(".badge-overdue")).to_have_text("überfällig")
    await expect(row).to_contain_text("GGH Heidelberg")  # owner by organisation, not a person


async def test_published_review_reports(page: Page, live_site: LiveSite) -> None:
    await page.goto("/")
    await page.locator("#nav-reviews").click()
    await expect(page.locator("body")).to_have_attribute("data-page", "reviews")
    report = page.locator("article.review-report")
    await expect(report).to_have_count(1)
    await expect(report).to_contain_text(live_site.review.title)
    await expect(report.locator("table")).to_contain_text("Spielplatz am Forum sanieren")
    await page.goto(f"/procedures/{live_site.review.procedure_id}")
    await expect(page.locator("#current-phase")).to_contain_text("Jährliche Überprüfung")
    await expect(page.locator("article.review-report")).to_have_count(1)


async def test_calendar_download_and_feed_links(page: Page, live_site: LiveSite) -> None:
    site = live_site.site
    await page.goto(f"/procedures/{site.bahnstadt.procedure_id}")
    atom = page.locator("head link[rel='alternate'][type='application/atom+xml']")
    await expect(atom).to_have_count(1)
    calendar_alt = page.locator("head link[rel='alternate'][type='text/calendar']")
    await expect(calendar_alt).to_have_count(1)

    async with page.expect_download() as download_info:
        await page.locator("#calendar-link").click()
    download = await download_info.value
    path = await download.path()
    calendar = icalendar.Calendar.from_ical(path.read_bytes())
    ends = {e.decoded("DTSTART") for e in calendar.walk("VEVENT")}
    assert site.bahnstadt.deadlines["hearing"] in ends
    assert site.bahnstadt.deadlines["announcement"] in ends

    href = await atom.get_attribute("href")
    assert href is not None
    response = await page.request.get(href)
    assert response.ok
    feed = ET.fromstring(await response.body())  # noqa: S314 (our own server's output)
    titles = [e.text for e in feed.iter("{http://www.w3.org/2005/Atom}title")]
    assert f"Neues Verfahren: {site.bahnstadt.title}" in titles


async def test_language_switch(page: Page, live_site: LiveSite) -> None:
    await page.goto(f"/procedures/{live_site.site.weststadt.procedure_id}")
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    await expect(page.locator("#timeline-heading")).to_have_text("Ablauf und Fristen")
    await page.locator("#lang-switch").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#current-phase")).to_contain_text("Council resolution")
    await expect(page.locator("#lang-switch")).to_have_attribute("lang", "de")
    await page.locator("#nav-commitments").click()  # the choice carries over
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.locator("#lang-switch").click()
    await expect(page.locator("html")).to_have_attribute("lang", "de")


async def _focused(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            const box = el.getBoundingClientRect();
            return {
                id: el.id, tag: el.tagName.toLowerCase(), text: (el.innerText || '').trim(),
                outline: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth),
                shadow: style.boxShadow, visible: box.width > 0 && box.height > 0
                    && box.bottom > 0 && box.right > 0,
            };
        }"""
    )
    return result


async def test_keyboard_reaches_skip_link_and_main_controls_with_visible_focus(
    page: Page, live_site: LiveSite
) -> None:
    await page.goto("/")
    await page.keyboard.press("Tab")
    first = await _focused(page)
    assert first["id"] == "skip-link"
    assert first["visible"]  # off-screen until focused, then shown
    assert first["outline"] != "none"
    await page.keyboard.press("Enter")
    await _loaded(page, re.compile(r"/#main$"))
    assert (await _focused(page))["id"] == "main"

    await page.goto("/")
    reached = []
    for _ in range(60):
        await page.keyboard.press("Tab")
        focused = await _focused(page)
        if focused["tag"] == "body":
            break  # past the last control: focus went to the browser's own UI
        reached.append(focused["id"] or focused["text"])
        assert focused["visible"], focused
        assert focused["outline"] != "none", focused
        assert focused["outlineWidth"] >= 2, focused
    for control in (
        "skip-link",
        "lang-switch",
        "nav-procedures",
        "nav-commitments",
        "filter-q",
        "filter-municipality",
        "filter-kind",
        "filter-phase",
        "filter-state",
        "filter-submit",
        live_site.site.bahnstadt.title,
    ):
        assert control in reached, (control, reached)
    assert reached.index("filter-q") < reached.index("filter-submit")


def _main_pages(live_site: LiveSite) -> list[str]:
    site = live_site.site
    return [
        "/",
        "/?municipality=08221000&phase=hearing",
        f"/procedures/{site.weststadt.procedure_id}",
        f"/procedures/{site.bahnstadt.procedure_id}",
        f"/procedures/{site.neckarstadt.procedure_id}",
        f"/procedures/{live_site.review.procedure_id}",
        "/commitments",
        "/commitments?status=overdue",
        "/reviews",
        "/?lang=en",
        f"/procedures/{site.weststadt.procedure_id}?lang=en",
        "/commitments?lang=en",
        "/procedures/no-such-procedure",
        "/?page=0",
    ]


async def test_axe_finds_no_serious_violations(page: Page, live_site: LiveSite) -> None:
    axe = Axe()
    blocking: list[str] = []
    for path in _main_pages(live_site):
        await page.goto(path)
        results = await axe.run(page, options=AXE_OPTIONS)
        assert results.response["testEngine"]["name"] == "axe-core"
        assert len(results.response["passes"]) > 10, path  # it really checked the page
        violations = results.response["violations"]
        print(f"axe {path}: {len(violations)} violation(s)")
        for v in violations:
            line = f"{path}: {v['id']} ({v['impact']}), {len(v['nodes'])} node(s): {v['help']}"
            print(line)  # the full list in the test log, also the minor ones
            if v["impact"] in BLOCKING:
                targets = [", ".join(map(str, n["target"])) for n in v["nodes"]]
                blocking.append(f"{line} at {targets}")
    assert blocking == [], "\n".join(blocking)


async def test_axe_would_report_a_violation(page: Page, live_site: LiveSite) -> None:
    """The harness can fail: a form field without a label is a serious violation."""
    await page.goto("/")
    await page.evaluate(
        "() => { const i = document.createElement('input'); i.type = 'text';"
        " document.querySelector('main').append(i); }"
    )
    results = await Axe().run(page, options=AXE_OPTIONS)
    found = {(v["id"], v["impact"]) for v in results.response["violations"]}
    assert ("label", "critical") in found or ("label", "serious") in found, found
