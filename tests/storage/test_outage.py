"""Fault: PostgreSQL unreachable during a hearing (issue 6: "down for 30 s").

A TCP proxy between the pool and the shared server is cut, so the server itself keeps
running for everyone else. The outage here lasts until Temporal has retried the activity at
least three times (about two seconds with the retry policy below) instead of 30 s: tests must
not depend on wall-clock time, and what matters is that attempts fail during the outage and
succeed after it. The real Temporal dev server drives the retries. Afterwards every batch is
stored exactly once, including one the workflow sends twice, and the audit trail verifies.
The outbox's delivery pass fails while the database is away and delivers once afterwards.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg
import pytest
from temporalio import workflow
from temporalio.client import WorkflowHandle
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner

from activities import contracts
from activities.notify.webhook import WebhookSender
from activities.storage.activities import DeliverOutboxInput, StorageActivities
from activities.storage.pool import create_pool
from activities.storage.verify import verify_procedure
from tests.helpers import assert_eq_eventually, free_port, new_worker
from tests.storage.conftest import (
    PROCEDURE,
    FreshMetrics,
    HttpReceiver,
    event,
    procedure_record,
    statement,
    storage_with,
)
from tests.storage.proxy import TcpProxy

pytestmark = pytest.mark.integration


@workflow.defn(name="StorageOutageProbe")
class OutageProbe:
    """Stores batches one after another, as a hearing does; returns how many were new."""

    @workflow.run
    async def run(self, batches: list[contracts.StoreStatementsInput]) -> list[int]:
        stored = []
        for batch in batches:
            result = await workflow.execute_activity(
                contracts.STORE_STATEMENTS,
                batch,
                result_type=contracts.StoreStatementsResult,
                start_to_close_timeout=timedelta(seconds=20),
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(milliseconds=200),
                    backoff_coefficient=1.5,
                    maximum_interval=timedelta(seconds=1),
                ),
            )
            stored.append(result.stored)
        return stored


def batch(first: int, count: int = 50) -> contracts.StoreStatementsInput:
    return contracts.StoreStatementsInput(
        procedure_id=PROCEDURE, statements=[statement(n) for n in range(first, first + count)]
    )


async def attempt_of_pending_activity(handle: WorkflowHandle[object, object]) -> int:
    description = await handle.describe()
    pending = description.raw_description.pending_activities
    return pending[0].attempt if pending else 0


async def test_statements_survive_a_database_outage(
    dev_env: WorkflowEnvironment, database_url: str, db_schema: str, db_pool: asyncpg.Pool
) -> None:
    proxy = TcpProxy(database_url, free_port())
    await proxy.start()
    pool = await create_pool(proxy.url, schema=db_schema, max_size=3, connect_timeout=5)
    storage = StorageActivities(pool)
    client = dev_env.client
    try:
        await storage.record_procedure(contracts.RecordProcedureInput(procedure=procedure_record()))
        async with new_worker(
            client,
            OutageProbe,
            activities=[storage.store_statements],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ) as worker:
            before = await client.execute_workflow(
                OutageProbe.run,
                [batch(1)],
                id=f"outage-before-{uuid.uuid4()}",
                task_queue=worker.task_queue,
            )
            assert before == [50]

            await proxy.cut()
            handle = await client.start_workflow(
                OutageProbe.run,
                # batch(1) again: the hearing resends what it is not sure was stored.
                [batch(51), batch(1), batch(101)],
                id=f"outage-during-{uuid.uuid4()}",
                task_queue=worker.task_queue,
            )

            async def failed_at_least_three_times() -> bool:
                return await attempt_of_pending_activity(handle) >= 4

            await assert_eq_eventually(
                True, failed_at_least_three_times, timeout=timedelta(seconds=30)
            )
            assert await db_pool.fetchval("SELECT count(*) FROM statements") == 50
            await proxy.restore()
            after = await handle.result()
        assert after == [50, 0, 50]
        assert await db_pool.fetchval("SELECT count(*) FROM statements") == 150
        assert await db_pool.fetchval("SELECT count(DISTINCT statement_id) FROM statements") == 150
        # procedure.recorded and one statements.stored per batch that stored something.
        assert await db_pool.fetchval("SELECT count(*) FROM events") == 4
        report = await verify_procedure(db_pool, PROCEDURE)
        assert report.ok, (report.chain.broken, report.record_problems)
    finally:
        await pool.close()
        await proxy.close()


async def test_outbox_delivery_resumes_after_an_outage(
    database_url: str, db_schema: str, db_pool: asyncpg.Pool, receiver: HttpReceiver
) -> None:
    proxy = TcpProxy(database_url, free_port())
    await proxy.start()
    pool = await create_pool(proxy.url, schema=db_schema, max_size=2, connect_timeout=5)
    try:
        async with WebhookSender() as sender:
            storage = storage_with(pool, FreshMetrics.fresh(), webhooks=sender)
            await storage.record_procedure(
                contracts.RecordProcedureInput(procedure=procedure_record())
            )
            await db_pool.execute(
                "INSERT INTO webhook_subscriptions (subscription_id, url, secret_ref) "
                "VALUES ('portal', $1, 'hooks-portal')",
                receiver.url,
            )
            await storage.append_events(
                contracts.AppendEventsInput(procedure_id=PROCEDURE, events=[event(1)])
            )
            await proxy.cut()
            with pytest.raises((OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError)):
                await storage.deliver_outbox(DeliverOutboxInput())
            await proxy.restore()
            result = await storage.deliver_outbox(DeliverOutboxInput())
            again = await storage.deliver_outbox(DeliverOutboxInput())
        assert (result.delivered, again.claimed) == (1, 0)
        assert len(receiver.hits) == 1
    finally:
        await pool.close()
        await proxy.close()
