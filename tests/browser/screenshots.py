"""Screenshots of the main pages for the README: `python -m tests.browser.screenshots`.

Serves the seeded example site (`tests.web.site`) exactly as the browser tests do and writes
PNGs of the procedure list, one procedure page and the commitments tracker to
`docs/screenshots/`. Needs a PostgreSQL server: `CIVICFLOW_TEST_DATABASE_URL` (as for the
tests), default `postgresql://postgres@127.0.0.1:5432/test`; a schema of its own is created
and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from playwright.async_api import async_playwright

from tests.browser.chromium import find_or_install_chromium
from tests.browser.live import LiveSite

__all__ = ["take_screenshots"]

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/test"
WIDTH, HEIGHT = 1280, 900


async def _shoot(live: LiveSite, chromium: str, out: Path) -> list[Path]:
    site = live.site
    pages = {
        "procedures.png": ("/", False),
        "procedure.png": (f"/procedures/{site.weststadt.procedure_id}", True),
        "commitments.png": ("/commitments", False),
    }
    written = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium)
        try:
            context = await browser.new_context(
                base_url=live.base_url,
                locale="de-DE",
                viewport={"width": WIDTH, "height": HEIGHT},
            )
            page = await context.new_page()
            for name, (path, full_page) in pages.items():
                await page.goto(path)
                target = out / name
                await page.screenshot(path=str(target), full_page=full_page)
                written.append(target)
            await context.close()
        finally:
            await browser.close()
    return written


def take_screenshots(database_url: str, out: Path = DEFAULT_OUT) -> list[Path]:
    """Write the PNGs into `out` and return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    chromium = find_or_install_chromium()
    with LiveSite(database_url) as live:
        return asyncio.run(_shoot(live, chromium, out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for the PNGs")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CIVICFLOW_TEST_DATABASE_URL", DEFAULT_DATABASE),
        help="PostgreSQL server to seed a temporary schema in",
    )
    args = parser.parse_args()
    for path in take_screenshots(args.database_url, args.out):
        print(path)


if __name__ == "__main__":
    main()
