"""The compiled row encoder (`_copyrows.c`) against the Python one: the same bytes and the
same digests for any storable row, and errors that name the row and field either way."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from activities.records import StatementRecord
from activities.storage import intake, pgcopy
from activities.storage.verify import verify_procedure
from tests.storage.conftest import PROCEDURE, statement

needs_compiled = pytest.mark.skipif(
    not pgcopy.COMPILED,
    reason="activities/storage/_copyrows.c was not built (no compiler or OpenSSL headers)",
)

_TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=40)
_PYDANTIC_TIME = TypeAdapter(datetime)


def _python(rows: list[tuple[Any, ...]]) -> tuple[bytes, bytes]:
    encoded = pgcopy.encode_statement_rows(rows)
    return b"".join(encoded), b"".join(hashlib.sha256(row).digest() for row in encoded)


@st.composite
def rows(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    out = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        moment = draw(
            st.datetimes(
                min_value=datetime(1, 1, 2),
                max_value=datetime(9999, 12, 30),
                timezones=st.sampled_from(
                    [UTC, timezone(timedelta(hours=5, minutes=30)), ZoneInfo("Europe/Berlin")]
                ),
            )
        )
        offset = moment.utcoffset() or timedelta()
        if draw(st.booleans()) and not offset % timedelta(minutes=1):
            # as pydantic hands it over: its own tzinfo class (whole minutes only)
            moment = _PYDANTIC_TIME.validate_python(moment.isoformat())
        out.append(
            (
                draw(_TEXT),
                str(draw(st.uuids())),
                draw(st.integers(min_value=-(2**31), max_value=2**31 - 1)),
                draw(st.integers(min_value=-(2**31), max_value=2**31 - 1)),
                draw(_TEXT),
                draw(st.none() | _TEXT),
                draw(_TEXT),
                draw(_TEXT),
                draw(st.lists(_TEXT, max_size=3) | st.tuples(_TEXT)),
                moment,
                draw(st.booleans()),
                draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
            )
        )
    return out


@needs_compiled
@settings(max_examples=300, deadline=None)
@given(batch=rows())
def test_the_compiled_loop_writes_the_python_loops_bytes(batch: list[tuple[Any, ...]]) -> None:
    assert pgcopy.encode_hashed_rows(batch) == _python(batch)


@needs_compiled
def test_a_real_batch_is_encoded_alike() -> None:
    records = [statement(n) for n in range(1, 301)]
    batch = [intake._ROW(r) for r in records]
    assert pgcopy.encode_hashed_rows(batch) == _python(batch)
    assert pgcopy.encode_hashed_rows([]) == (b"", b"")


def _row(**changes: Any) -> tuple[Any, ...]:
    record: StatementRecord = statement(1)
    values = dict(zip(intake.STATEMENT_COLUMNS, intake._ROW(record), strict=True))
    values.update(changes)
    return tuple(values[c] for c in intake.STATEMENT_COLUMNS)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"sequence": 2**31}, ValueError, r"statements\[1\]\.sequence: expected an integer up to"),
        ({"round": -(2**40)}, ValueError, r"statements\[1\]\.round: expected an integer up to"),
        ({"statement_id": "ABC"}, ValueError, r"statements\[1\]\.statement_id: expected a lower"),
        ({"received_at": datetime(2026, 1, 1)}, TypeError, "offset-naive"),
        ({"text": 7}, TypeError, "str"),
    ],
)
def test_a_bad_value_is_named_whichever_loop_runs(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        pgcopy.encode_hashed_rows([_row(), _row(**changes)])


async def test_intake_without_the_compiled_loop_stores_and_verifies_alike(
    db_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the extension could not be built, intake runs the Python loop: the same rows, the
    same digests in the audit event, verified alike."""
    batches = [[statement(n) for n in range(k * 400 + 1, k * 400 + 401)] for k in range(2)]
    async with db_pool.acquire() as conn:
        await intake.store_statements(conn, PROCEDURE, batches[0])
        monkeypatch.setattr(pgcopy, "_encode_hashed_compiled", None)
        assert pgcopy.encode_hashed_rows([intake._ROW(batches[1][0])]) == _python(
            [intake._ROW(batches[1][0])]
        )
        await intake.store_statements(conn, PROCEDURE, batches[1])
    report = await verify_procedure(db_pool, PROCEDURE)
    assert report.ok, (report.chain.broken, report.record_problems)
    assert report.records_checked == 800
