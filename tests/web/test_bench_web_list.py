"""bench/web_list.py in its smallest size: it seeds, every scenario answers 200, it reports.

No timing is asserted (speed lives in bench/REPORT.md); what must hold is that the seed goes
through the real write path into the read model and that each measured page exists.
"""

from __future__ import annotations

import asyncpg
import pytest

from bench import web_list
from worker.web import readmodel


async def test_small_run(db_pool: asyncpg.Pool, capsys: pytest.CaptureFixture[str]) -> None:
    await web_list.seed(db_pool, 60)
    page = await readmodel.list_procedures(db_pool)
    assert page.total == 60
    states = {p.state for p in page.items}
    assert "running" in states
    with_phase = [p for p in page.items if p.phase_id is not None]
    assert len(with_phase) == 20  # the first page: every seeded procedure has a phase visit
    await web_list.measure(db_pool, rounds=1, count=60)
    out = capsys.readouterr().out
    assert "all pages" in out
    assert "phase filter from events / read model" in out
    assert out.count("page ") >= 9  # each page scenario printed a row
