"""Open-data exports through the real app over real PostgreSQL: schema, columns, licence, privacy.

The data is written by the real storage activities (`tests.web.site`); JSON is checked against
the committed JSON Schemas, CSV with the csv module.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jsonschema
import pytest

from activities.records import stable_id
from tests.web.site import MANNHEIM, PERSONAL, SeededSite, seed_site, site_client
from worker.commands.schema import render
from worker.web import readmodel
from worker.web.exports import DATASETS, SCHEMA_DIR, OpenDataSettings, open_data_schemas
from worker.web.readmodel import today_in_berlin

ROOT = Path(__file__).resolve().parents[2]
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


@pytest.fixture
async def site(db_pool: asyncpg.Pool) -> SeededSite:
    return await seed_site(db_pool, today_in_berlin())


@pytest.fixture
async def client(db_pool: asyncpg.Pool, site: SeededSite) -> AsyncIterator[httpx.AsyncClient]:
    async with site_client(db_pool) as http:
        yield http


def _schema(name: str) -> dict[str, Any]:
    path = ROOT / SCHEMA_DIR / f"open-data-{name}.schema.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _validate(name: str, document: Any) -> None:
    schema = _schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema, format_checker=FORMAT_CHECKER).validate(document)


def _csv(response: httpx.Response) -> list[list[str]]:
    text = response.content.decode("utf-8")  # strict: fails on anything but UTF-8
    return list(csv.reader(io.StringIO(text, newline="")))


def test_committed_schemas_are_the_generated_ones() -> None:
    for name, document in open_data_schemas().items():
        committed = (ROOT / SCHEMA_DIR / name).read_text(encoding="utf-8")
        assert committed == render(document), (
            f"{SCHEMA_DIR}/{name} drifted from worker.web.exports.DATASETS; regenerate it"
        )


async def test_json_exports_validate_and_carry_the_licence(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    expected = {
        "procedures": {p.procedure_id for p in site.procedures},
        "decisions": set(site.weststadt.decision_ids),
        "commitments": set(site.weststadt.commitment_ids.values()),
    }
    key = {"procedures": "procedure_id", "decisions": "decision_id", "commitments": "commitment_id"}
    for name in DATASETS:
        response = await client.get(f"/open-data/{name}.json")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["link"] == '<https://www.govdata.de/dl-de/by-2-0>; rel="license"'
        document = response.json()
        _validate(name, document)
        assert document["licence"]["id"] == "dl-de/by-2-0"
        assert document["count"] == len(document["items"])
        assert {item[key[name]] for item in document["items"]} == expected[name]
        for item in document["items"]:
            assert list(item) == [c.name for c in DATASETS[name].columns]  # stable order


async def test_procedure_record_fields(client: httpx.AsyncClient, site: SeededSite) -> None:
    items = (await client.get("/open-data/procedures.json")).json()["items"]
    by_id = {i["procedure_id"]: i for i in items}
    bahnstadt = by_id[site.bahnstadt.procedure_id]
    assert bahnstadt["phase_id"] == "hearing"
    assert bahnstadt["phase_type"] == "hearing"
    assert bahnstadt["state"] == "running"
    assert bahnstadt["kind"] == "bauleitplanung"
    assert bahnstadt["period_end"] == site.bahnstadt.deadlines["hearing"].isoformat()
    assert bahnstadt["url"] == f"http://site.test/procedures/{site.bahnstadt.procedure_id}"
    assert by_id[site.weststadt.procedure_id]["phase_title"] == "Satzungsbeschluss"
    english = (await client.get("/open-data/procedures.json?lang=en")).json()["items"]
    titles = {i["procedure_id"]: i["phase_title"] for i in english}
    assert titles[site.weststadt.procedure_id] == "Council resolution"


async def test_commitments_show_the_overdue_one(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    items = (await client.get("/open-data/commitments.json")).json()["items"]
    status = {i["commitment_id"]: (i["status"], i["public_status"]) for i in items}
    ids = site.weststadt.commitment_ids
    assert status[ids["housing"]] == ("in_progress", "overdue")  # due yesterday
    assert status[ids["trees"]] == ("done", "done")
    assert status[ids["bike"]] == ("in_progress", "on_track")
    progress = {i["commitment_id"]: i["progress_percent"] for i in items}
    assert progress[ids["bike"]] == 40


async def test_csv_has_the_documented_columns_utf8_and_licence(
    client: httpx.AsyncClient, site: SeededSite
) -> None:
    for name, dataset in DATASETS.items():
        response = await client.get(f"/open-data/{name}.csv")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
        rows = _csv(response)
        assert rows[0] == _schema(name)["x-csv-columns"]
        assert rows[0][: len(dataset.columns)] == [c.name for c in dataset.columns]
        document = (await client.get(f"/open-data/{name}.json")).json()
        assert len(rows) - 1 == document["count"]
        for row in rows[1:]:
            assert row[-2:] == ["dl-de/by-2-0", "https://www.govdata.de/dl-de/by-2-0"]
        # Both formats hold the same values (CSV: text, empty for null).
        json_rows = [
            ["" if v is None else str(v) for v in item.values()] for item in document["items"]
        ]
        assert sorted(r[: len(dataset.columns)] for r in rows[1:]) == sorted(json_rows)
    text = (await client.get("/open-data/procedures.csv")).content.decode("utf-8")
    assert "„Südliche Weststadt“" in text


async def test_filters(client: httpx.AsyncClient, site: SeededSite) -> None:
    document = (await client.get(f"/open-data/procedures.json?municipality={MANNHEIM}")).json()
    assert [i["procedure_id"] for i in document["items"]] == [site.neckarstadt.procedure_id]
    empty = (await client.get(f"/open-data/commitments.json?municipality={MANNHEIM}")).json()
    assert empty["items"] == []
    assert empty["count"] == 0
    _validate("commitments", empty)
    one = await client.get(
        f"/open-data/decisions.csv?procedure_id={site.weststadt.procedure_id}&municipality="
    )
    assert len(_csv(one)) == 2  # header and the one decision; an empty field counts as absent


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("municipality=Heidelberg", "municipality"),
        ("municipality=0822100", "municipality"),
        ("lang=fr", "lang"),
        ("page=2", "page"),
    ],
)
async def test_bad_parameters_are_refused_with_a_message(
    client: httpx.AsyncClient, query: str, names: str
) -> None:
    for name in DATASETS:
        for fmt in ("json", "csv"):
            response = await client.get(f"/open-data/{name}.{fmt}?{query}")
            assert response.status_code == 400, (name, fmt, query)
            assert response.text.startswith(f"400 Bad Request: {names}: ")


async def test_a_bad_procedure_id_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/open-data/decisions.json", params={"procedure_id": "x" * 201})
    assert response.status_code == 400
    assert response.text.startswith("400 Bad Request: procedure_id: expected a procedure id")
    unknown = await client.get("/open-data/decisions.json?procedure_id=procedure-nothing")
    assert unknown.json()["items"] == []  # a filter, not a lookup: empty, not 404


async def test_licence_comes_from_settings(db_pool: asyncpg.Pool, site: SeededSite) -> None:
    licence = OpenDataSettings(
        licence_id="cc-by-4.0",
        licence_name="Creative Commons Namensnennung 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        publisher="Stadt Heidelberg",
    )
    async with site_client(db_pool, open_data=licence) as http:
        document = (await http.get("/open-data/decisions.json")).json()
        rows = _csv(await http.get("/open-data/decisions.csv"))
    assert document["licence"] == {
        "id": "cc-by-4.0",
        "name": "Creative Commons Namensnennung 4.0",
        "url": "https://creativecommons.org/licenses/by/4.0/",
        "attribution": "Stadt Heidelberg",
    }
    assert rows[1][-2:] == ["cc-by-4.0", "https://creativecommons.org/licenses/by/4.0/"]


async def test_nothing_personal_is_exported(client: httpx.AsyncClient, site: SeededSite) -> None:
    participant_ids = [
        stable_id(site.weststadt.procedure_id, "participant", key)
        for key in ("resident-1", "resident-2")
    ]
    statement_text = "Frischluftschneise"
    for name in DATASETS:
        for fmt in ("json", "csv"):
            body = (await client.get(f"/open-data/{name}.{fmt}")).text
            for secret in (*PERSONAL, *participant_ids, statement_text, "Hauptstraße 1"):
                assert secret not in body, (name, fmt, secret)


async def test_ten_thousand_procedures_stream_completely(
    db_pool: asyncpg.Pool, site: SeededSite
) -> None:
    """Scale, not speed: every row arrives, in order, as one valid document.

    10,000 procedures are inserted with COPY (the storage activities would take minutes and
    are exercised by the other tests); the read model's trigger is not involved for these
    rows, so they count as running procedures without a phase yet.
    """
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [
        (
            f"bulk-{n:05d}",
            "baugb-3-2",
            "1.0.0",
            "0" * 64,
            f"Bebauungsplan Nr. {n}",
            "08221000",
            "BW",
            start + timedelta(minutes=n),
            "{}",
        )
        for n in range(10_000)
    ]
    async with db_pool.acquire() as conn:
        await conn.copy_records_to_table(
            "procedures",
            records=rows,
            columns=[
                "procedure_id", "definition_id", "definition_version", "definition_hash",
                "title", "municipality", "land", "started_at", "parameters",
            ],
        )  # fmt: skip
    async with site_client(db_pool) as http:
        document = (await http.get("/open-data/procedures.json")).json()
        csv_rows = _csv(await http.get("/open-data/procedures.csv"))
    _validate("procedures", document)
    assert document["count"] == 10_003
    ids = [i["procedure_id"] for i in document["items"]]
    assert len(set(ids)) == 10_003
    assert len(csv_rows) == 10_004
    assert {r[0] for r in csv_rows[1:]} == set(ids)


def test_docs_list_every_field_in_order() -> None:
    text = (ROOT / "docs" / "open-data.md").read_text(encoding="utf-8")
    for name, dataset in DATASETS.items():
        section = text.split(f"### `{name}`", 1)[1].split("###", 1)[0]
        documented = re.findall(r"^\| \d+ \| `([a-z_]+)` \|", section, re.M)
        assert documented == [c.name for c in dataset.columns], name


async def test_exports_agree_with_the_pages_read_model(
    client: httpx.AsyncClient, db_pool: asyncpg.Pool, site: SeededSite
) -> None:
    """Exports read by key with their own queries; they must say what the pages say."""
    exported = (await client.get("/open-data/procedures.json")).json()["items"]
    assert [i["procedure_id"] for i in exported] == sorted(p.procedure_id for p in site.procedures)
    page = await readmodel.list_procedures(db_pool)
    for summary in page.items:
        item = next(i for i in exported if i["procedure_id"] == summary.procedure_id)
        assert item["kind"] == summary.kind
        assert item["state"] == summary.state
        assert item["phase_id"] == summary.phase_id
        assert item["phase_type"] == summary.phase_type
        assert item["round"] == summary.round
        assert item["period_end"] == (summary.period_end and summary.period_end.isoformat())
        assert item["definition_title"] == (
            summary.definition_title and summary.definition_title.de
        )
        assert item["phase_title"] == (summary.phase_title and summary.phase_title.de)
    commitments = (await client.get("/open-data/commitments.json")).json()["items"]
    tracker = await readmodel.list_commitments(db_pool, today=today_in_berlin())
    assert {
        (c["commitment_id"], c["public_status"], c["progress_percent"]) for c in commitments
    } == {(c.commitment_id, c.public_status, c.progress_percent) for c in tracker.items}
