"""Storage activities: every write is idempotent, also when the same call runs concurrently."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError

from activities import contracts
from activities.records import (
    CommitmentStatus,
    DecisionRecord,
    ProgressReportRecord,
    VoteRecord,
    stable_id,
)
from activities.storage import intake
from activities.storage.activities import StorageActivities
from activities.storage.audit import verify_chain
from activities.storage.verify import verify_procedure
from tests.storage.conftest import (
    PROCEDURE,
    T0,
    FreshMetrics,
    commitment,
    digest,
    participant,
    procedure_record,
    statement,
)


async def count(pool: asyncpg.Pool, table: str) -> int:
    value: int = await pool.fetchval(f"SELECT count(*) FROM {table}")
    return value


def vote(voter: str, choice: str = "yes", *, vote_key: str | None = None) -> VoteRecord:
    return VoteRecord(
        procedure_id=PROCEDURE,
        vote_id=stable_id(PROCEDURE, "vote", "p1", vote_key or voter),
        round=1,
        phase_id="beratung",
        proposal_id="p1",
        voter_ref=voter,
        choice=choice,
        cast_at=T0,
        receipt_digest=digest(voter + choice),
    )


def report(
    n: int, status: CommitmentStatus = "in_progress", minutes: int = 0
) -> ProgressReportRecord:
    return ProgressReportRecord(
        procedure_id=PROCEDURE,
        report_id=stable_id(PROCEDURE, "report", str(n)),
        commitment_id=commitment(1).commitment_id,
        phase_id="review",
        status=status,
        progress_percent=10 * n,
        text=f"Bericht {n}",
        reported_at=T0 + timedelta(days=30, minutes=minutes),
        receipt_digest=digest(f"report {n}"),
    )


async def test_record_procedure_twice_and_concurrently_stores_one_row(
    storage: StorageActivities, db_pool: asyncpg.Pool, metrics: FreshMetrics
) -> None:
    call = contracts.RecordProcedureInput(procedure=procedure_record())
    results = await asyncio.gather(*(storage.record_procedure(call) for _ in range(5)))
    again = await storage.record_procedure(call)
    assert sorted(r.created for r in results) == [False, False, False, False, True]
    assert again == contracts.StoreResult(record_id=PROCEDURE, created=False)
    assert await count(db_pool, "procedures") == 1
    assert await count(db_pool, "events") == 1  # one procedure.recorded event
    assert metrics.value("civicflow_procedures_started_total") == 1


async def test_statement_batch_retry_stores_nothing_twice(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str, metrics: FreshMetrics
) -> None:
    batch = contracts.StoreStatementsInput(
        procedure_id=procedure, statements=[statement(n) for n in range(1, 101)]
    )
    first = await storage.store_statements(batch)
    retry = await storage.store_statements(batch)
    assert (first.stored, first.duplicates) == (100, 0)
    assert (retry.stored, retry.duplicates) == (0, 100)
    assert set(retry.duplicate_ids) == {s.statement_id for s in batch.statements}
    # A retry of the same call (identical rows): the engine counts these as its own.
    assert retry.same_content_ids == retry.duplicate_ids
    assert await count(db_pool, "statements") == 100
    # One procedure.recorded plus one statements.stored event; the retry added none.
    assert await count(db_pool, "events") == 2
    assert metrics.value("civicflow_statements_received_total") == 100


async def test_overlapping_concurrent_batches_store_each_statement_once(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    batches = [
        contracts.StoreStatementsInput(
            procedure_id=procedure, statements=[statement(n) for n in range(start, start + 50)]
        )
        for start in (1, 26, 1, 51, 26)
    ]
    results = await asyncio.gather(*(storage.store_statements(b) for b in batches))
    assert sum(r.stored for r in results) == 100
    assert sum(r.stored + r.duplicates for r in results) == 250
    assert await count(db_pool, "statements") == 100
    assert (await verify_procedure(db_pool, procedure)).ok


async def test_duplicates_inside_one_batch_are_reported(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    batch = contracts.StoreStatementsInput(
        procedure_id=procedure, statements=[statement(1), statement(2), statement(1)]
    )
    result = await storage.store_statements(batch)
    assert (result.stored, result.duplicate_ids) == (2, [statement(1).statement_id])
    assert await count(db_pool, "statements") == 2


async def test_statement_of_another_procedure_is_refused_whole(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    batch = contracts.StoreStatementsInput(
        procedure_id=procedure, statements=[statement(1), statement(2, "other")]
    )
    with pytest.raises(ApplicationError, match=r"statements\[1\]\.procedure_id") as caught:
        await storage.store_statements(batch)
    assert caught.value.non_retryable
    assert await count(db_pool, "statements") == 0


async def test_one_vote_per_voter_and_proposal(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    first = contracts.StoreVoteInput(vote=vote("v1"))
    results = await asyncio.gather(*(storage.store_vote(first) for _ in range(4)))
    assert sorted(r.created for r in results) == [False, False, False, True]
    # Same voter and proposal under another vote id: the first vote stands.
    other = await storage.store_vote(contracts.StoreVoteInput(vote=vote("v1", "no", vote_key="x")))
    assert other == contracts.StoreResult(record_id=first.vote.vote_id, created=False)
    assert await db_pool.fetchval("SELECT choice FROM votes") == "yes"
    assert await count(db_pool, "votes") == 1


async def test_decision_is_stored_once(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    decision = DecisionRecord(
        procedure_id=procedure,
        decision_id=stable_id(procedure, "decision", "1"),
        round=1,
        phase_id="beschluss",
        body="council",
        outcome="adopted",
        title="Satzungsbeschluss",
        decided_at=T0,
        receipt_digest=digest("decision"),
    )
    call = contracts.StoreDecisionInput(decision=decision)
    assert (await storage.store_decision(call)).created
    assert not (await storage.store_decision(call)).created
    assert await count(db_pool, "decisions") == 1


async def test_progress_reports_keep_status_history_and_newest_status(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    created = await storage.store_commitment(
        contracts.StoreCommitmentInput(commitment=commitment(1))
    )
    assert created.created
    late = contracts.StoreProgressReportInput(report=report(2, "done", minutes=10))
    early = contracts.StoreProgressReportInput(report=report(1, "in_progress", minutes=0))
    await asyncio.gather(storage.store_progress_report(late), storage.store_progress_report(late))
    await storage.store_progress_report(early)  # arrives last, is older: must not win
    status = await db_pool.fetchval("SELECT status FROM commitments")
    history = await db_pool.fetch(
        "SELECT change_id, status FROM commitment_status_history ORDER BY changed_at"
    )
    assert status == "done"
    assert [h["status"] for h in history] == ["open", "in_progress", "done"]
    assert await count(db_pool, "progress_reports") == 2
    assert (await verify_procedure(db_pool, procedure)).ok


async def test_report_on_unknown_commitment_fails_without_retry(
    storage: StorageActivities, procedure: str
) -> None:
    with pytest.raises(
        ApplicationError, match="store_progress_report: the database refused"
    ) as err:
        await storage.store_progress_report(contracts.StoreProgressReportInput(report=report(1)))
    assert err.value.non_retryable


async def test_participant_registration_is_idempotent_and_chain_has_no_personal_data(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    call = contracts.RegisterParticipantInput(participant=participant(1))
    results = await asyncio.gather(*(storage.register_participant(call) for _ in range(3)))
    assert sorted(r.created for r in results) == [False, False, True]
    assert await count(db_pool, "participants") == 1
    assert await count(db_pool, "participant_personal") == 1
    chain = " ".join(r[0] for r in await db_pool.fetch("SELECT payload FROM events"))
    assert participant(1).participant_id in chain
    for personal in ("Erika", "erika1@example.org", "Hauptstraße"):
        assert personal not in chain


async def test_verify_finds_an_edited_statement(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    await storage.store_statements(
        contracts.StoreStatementsInput(
            procedure_id=procedure, statements=[statement(n) for n in range(1, 4)]
        )
    )
    await storage.store_commitment(contracts.StoreCommitmentInput(commitment=commitment(1)))
    before = await verify_procedure(db_pool, procedure)
    assert before.ok
    assert before.records_checked == 5  # procedure, three statements, one commitment
    target = statement(2).statement_id
    await db_pool.execute("UPDATE statements SET text = 'geändert' WHERE statement_id = $1", target)
    await db_pool.execute("UPDATE commitments SET due_date = '2030-01-01'")
    after = await verify_procedure(db_pool, procedure)
    assert (await verify_chain(db_pool, procedure)).ok  # the events themselves are intact
    assert not after.ok
    assert any(target in p and "altered" in p for p in after.record_problems)
    assert any(p.startswith("commitments ") for p in after.record_problems)


SMUGGLED = "00000000-0000-4000-8000-5a4d55474c45"


async def test_verify_finds_deleted_and_smuggled_rows(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    await storage.store_statements(
        contracts.StoreStatementsInput(procedure_id=procedure, statements=[statement(1)])
    )
    await db_pool.execute("DELETE FROM statements")
    await db_pool.execute(
        "INSERT INTO statements SELECT * FROM (SELECT $1::text, $2::uuid, 9, 1, 'x', NULL, "
        "'citizen', 't', '{}'::text[], now(), false, repeat('0', 64)) AS s",
        procedure,
        SMUGGLED,
    )
    problems = (await verify_procedure(db_pool, procedure)).record_problems
    assert any(SMUGGLED in p and "not anchored" in p for p in problems)
    assert any(statement(1).statement_id in p and "missing" in p for p in problems)


async def test_stored_statement_digest_matches_the_one_in_the_chain(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    # Non-UTC offset, an author, attachments, characters outside ASCII, a separator-like text.
    tricky = statement(5, text="Grünfläche 3:4|5 [x]").model_copy(
        update={
            "author_ref": "p-7",
            "attachments": ["https://a.example/1.pdf", "urn:x:2"],
            "received_at": datetime(
                2026, 3, 2, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))
            ),
        }
    )
    await storage.store_statements(
        contracts.StoreStatementsInput(procedure_id=procedure, statements=[tricky])
    )
    payload = json.loads(
        await db_pool.fetchval("SELECT payload FROM events WHERE event_type = 'statements.stored'")
    )
    row = await db_pool.fetchrow("SELECT * FROM statements")
    full = intake.row_digest([row[c] for c in intake.STATEMENT_COLUMNS])
    assert payload["data"] == {
        "digest_form": intake.BATCH_FORM,
        "statements": [tricky.statement_id],
        "row_digests": [full.hex()[: intake.DIGEST_PREFIX]],
        "batch_digest": intake.batch_digest([full]),
    }
    assert (await verify_procedure(db_pool, procedure)).ok


async def test_retry_of_the_same_batch_is_told_from_a_later_resend(
    db_pool: asyncpg.Pool, procedure: str
) -> None:
    first = [statement(1), statement(2)]
    resend = statement(2).model_copy(update={"sequence": 9})  # same key, accepted again later
    async with db_pool.acquire() as conn:
        await intake.store_statements(conn, procedure, first)
        retry = await intake.store_statements(conn, procedure, first)
        later = await intake.store_statements(conn, procedure, [resend])
    assert retry.stored == []
    assert retry.same_content_ids == [s.statement_id for s in first]
    assert later.duplicate_ids == [resend.statement_id]
    assert later.same_content_ids == []
