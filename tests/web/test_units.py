"""Small pieces of the site: language choice, labels, dates, settings, `serve`, the README."""

from __future__ import annotations

import asyncio
import string
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from worker.config import ConfigError
from worker.web import i18n
from worker.web.i18n import format_date, format_datetime, label, negotiate
from worker.web.server import serve
from worker.web.settings import WebSettings, load_web_settings

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        (None, None, "de"),
        ("en", "de", "en"),
        (None, "en-GB,en;q=0.9", "en"),
        (None, "fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7", "en"),
        (None, "de-DE,de;q=0.9,en;q=0.8", "de"),
        (None, "fr", "de"),
        (None, "en;q=0", "de"),
        (None, "en;q=abc, de", "de"),
        (None, ",,;", "de"),
    ],
)
def test_negotiate(query: str | None, header: str | None, expected: str) -> None:
    assert negotiate(query, header, "de") == expected


def test_labels_and_durations() -> None:
    assert label("phase", "hearing", "de") == "Anhörung und Stellungnahmen"
    assert label("phase", "hearing", "en") == "Hearing and statements"
    assert label("statement", "brand_new_type", "de") == "brand new type"  # never breaks a page
    assert label("duration", "P1W", "de") == "1 Woche"
    assert label("duration", "P14D", "en") == "14 days"
    assert label("duration", "P1Y2M", "de") == "1 Jahr, 2 Monate"
    assert label("duration", "one_month_min_30_days", "en") == "one month, at least 30 days"
    assert label("duration", "weird", "en") == "weird"


def test_dates_are_written_out_in_berlin_time() -> None:
    assert format_date(date(2026, 12, 24), "de") == "24. Dezember 2026"
    assert format_date(date(2026, 3, 1), "en") == "1 March 2026"
    late_evening_utc = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)  # already July 1st in Berlin
    assert format_date(late_evening_utc, "de") == "1. Juli 2026"
    assert format_datetime(late_evening_utc, "de") == "1. Juli 2026, 00:30 Uhr"
    assert format_datetime(late_evening_utc, "en") == "1 July 2026, 00:30"


def test_every_text_has_both_languages() -> None:
    for key, (de, en) in i18n.TEXTS.items():
        assert de, key
        assert en, key
        assert set(_fields(de)) == set(_fields(en)), f"{key}: placeholders differ"


def _fields(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def test_settings_read_the_workers_database_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICFLOW_DATABASE_URL", "postgresql://site@db:5432/civic")
    monkeypatch.setenv("CIVICFLOW_DATABASE_SCHEMA", "heidelberg")
    monkeypatch.setenv("CIVICFLOW_WEB_MUNICIPALITY_NAMES", '{"08221000": "Heidelberg"}')
    settings = load_web_settings(port=9000)
    assert settings.database_url == "postgresql://site@db:5432/civic"
    assert settings.database_schema == "heidelberg"
    assert settings.port == 9000
    assert settings.municipality_name("08221000") == "Heidelberg"
    assert settings.municipality_name("08222000") == "08222000"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"port": 65536}, "port (CIVICFLOW_WEB_PORT)"),
        ({"base_url": "beteiligung.example.de"}, "base_url (CIVICFLOW_WEB_BASE_URL)"),
        ({"database_url": "mysql://x"}, "database_url (CIVICFLOW_DATABASE_URL)"),
        ({"database_schema": "Robert'); DROP"}, "database_schema (CIVICFLOW_DATABASE_SCHEMA)"),
        ({"municipality_names": {"HD": "x"}}, "keys must be AGS keys"),
        ({"default_language": "fr"}, "default_language (CIVICFLOW_WEB_DEFAULT_LANGUAGE)"),
    ],
)
def test_bad_settings_name_the_variable(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="invalid configuration") as caught:
        load_web_settings(**overrides)
    assert message in str(caught.value)


def test_readme_documents_every_setting() -> None:
    text = README.read_text("utf-8")
    section = text[text.index("## Public transparency site: `civicflow web`") :]
    shared = {
        "database_url": "CIVICFLOW_DATABASE_URL",
        "database_schema": "CIVICFLOW_DATABASE_SCHEMA",
    }
    internal = {"log_level", "shutdown_grace_seconds"}  # operators rarely need them
    for name in set(WebSettings.model_fields) - internal:
        variable = shared.get(name, f"CIVICFLOW_WEB_{name.upper()}")
        # `CIVICFLOW_WEB_HOST`, `_PORT`: a row may name a sibling by its suffix only.
        suffix = "_" + name.upper().rsplit("_", 1)[-1]
        assert variable in section or f"`{suffix}`" in section, f"README lacks {variable}"


async def test_serve_until_stopped(db_pool: asyncpg.Pool) -> None:
    """What the dev stack does: serve on a free port with its own pool, stop by event."""
    stop = asyncio.Event()
    urls: list[str] = []
    task = asyncio.create_task(serve(WebSettings(port=0), stop, pool=db_pool, ready=urls.append))
    for _ in range(500):
        if urls or task.done():
            break
        await asyncio.sleep(0.02)
    assert urls, task.exception() if task.done() else "serve did not become ready"
    async with httpx.AsyncClient(base_url=urls[0]) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/")).status_code == 200
    stop.set()
    await asyncio.wait_for(task, timeout=30)
    assert await db_pool.fetchval("SELECT 1") == 1  # the caller's pool stays open


def test_base_url_is_an_origin() -> None:
    assert load_web_settings(base_url="https://beteiligung.example.de/").base_url == (
        "https://beteiligung.example.de"
    )
    with pytest.raises(ConfigError, match="scheme and host only"):
        load_web_settings(base_url="https://example.de/beteiligung")
