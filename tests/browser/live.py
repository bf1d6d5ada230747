"""The real public site on a real port: uvicorn in a thread over a seeded PostgreSQL schema.

The seed is `tests.web.site.seed_site` (three procedures) plus `seed_review_procedure` (a
fourth, in its yearly review with a published report), so every page has something to show.

Why a thread with its own event loop: the browser (Playwright's driver, a subprocess) talks
to the site over TCP exactly like a citizen's browser, while the tests' own loop stays free;
asyncpg pools belong to the loop that made them, so the schema, the seed, the pool and the
server all live in that thread. `LiveSite` is a context manager: the schema is dropped and
the server stopped on exit, also when seeding or start-up failed.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from datetime import date
from types import TracebackType

import uvicorn

from activities.storage.pool import create_pool
from tests.helpers import migrated_schema
from tests.web.site import SeededProcedure, SeededSite, seed_review_procedure, seed_site
from worker.web.app import create_app
from worker.web.readmodel import today_in_berlin
from worker.web.settings import WebSettings

__all__ = ["LiveSite"]

START_TIMEOUT_SECONDS = 60.0


class LiveSite:
    """`with LiveSite(database_url) as live:` serves the seeded site at `live.base_url`."""

    def __init__(self, database_url: str, *, today: date | None = None) -> None:
        self.database_url = database_url
        self.today = today or today_in_berlin()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._site: SeededSite | None = None
        self._review: SeededProcedure | None = None
        self._server: uvicorn.Server | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-site", daemon=True)

    @property
    def site(self) -> SeededSite:
        assert self._site is not None, "LiveSite is not started"
        return self._site

    @property
    def review(self) -> SeededProcedure:
        """The fourth procedure (in its yearly review, one report published)."""
        assert self._review is not None, "LiveSite is not started"
        return self._review

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def __enter__(self) -> LiveSite:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_SECONDS):
            self._stop()
            msg = f"the site did not start within {START_TIMEOUT_SECONDS:.0f} s"
            raise RuntimeError(msg)
        if self._error is not None:
            self._stop()
            raise RuntimeError("the site failed to start") from self._error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported to the starting thread
            self._error = err
        finally:
            self._ready.set()

    async def _main(self) -> None:
        async with migrated_schema(self.database_url, prefix="web") as schema:
            pool = await create_pool(self.database_url, schema=schema, max_size=5)
            try:
                self._site = await seed_site(pool, self.today)
                self._review = await seed_review_procedure(self._site)
                settings = WebSettings(
                    database_url=self.database_url,
                    database_schema=schema,
                    site_name="Beteiligung Rhein-Neckar",
                    municipality_names={"08221000": "Heidelberg", "08222000": "Mannheim"},
                )
                app = create_app(settings, pool=pool)
                config = uvicorn.Config(
                    app, log_level="warning", access_log=False, lifespan="on", timeout_notify=5
                )
                self._server = uvicorn.Server(config)
                serving = asyncio.create_task(self._server.serve(sockets=[self._sock]))
                while not self._server.started and not serving.done():  # noqa: ASYNC110
                    await asyncio.sleep(0.02)  # uvicorn offers a flag, not an event
                if serving.done():
                    await serving
                    msg = "uvicorn stopped before it started (see its log above)"
                    raise RuntimeError(msg)
                self._ready.set()
                await serving
            finally:
                await pool.close()
