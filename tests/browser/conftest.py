"""Fixtures of the browser tests: Debian's chromium, the real site on a real port, a page.

- `chromium_executable`: found, or installed with apt-get (root, as in CI); otherwise every
  browser test is skipped with the reason.
- `live_site`: one seeded site per session (`tests.browser.live.LiveSite`), read-only, so the
  tests share it.
- `page`: a fresh browser context per test (German locale, desktop viewport), closed after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.browser.chromium import BrowserUnavailableError, find_or_install_chromium
from tests.browser.live import LiveSite

VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    try:
        return find_or_install_chromium()
    except BrowserUnavailableError as err:
        pytest.skip(f"browser tests need chromium: {err}")


@pytest.fixture(scope="session")
def live_site(database_url: str, chromium_executable: str) -> Iterator[LiveSite]:
    with LiveSite(database_url) as live:
        yield live


@pytest.fixture(scope="session")
async def browser(chromium_executable: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium_executable)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser, live_site: LiveSite) -> AsyncIterator[Page]:
    context = await browser.new_context(
        base_url=live_site.base_url,
        locale="de-DE",
        viewport=VIEWPORT,  # type: ignore[arg-type]
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()
