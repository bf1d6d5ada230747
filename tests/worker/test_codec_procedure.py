"""A real Procedure with encryption on: the worker built as `civicflow worker` builds it.

Real dev server, real PostgreSQL, the registry's workflows and activities, clients from
`worker.client.connect` with a key. A statement quoting a citizen's name and e-mail address
goes in by update; the history, read without the codec, must not contain either.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.storage.pool import create_pool
from tests.helpers import migrated_schema
from tests.interfaces import support
from worker import registry
from worker.client import connect
from worker.codec import ENCODING
from worker.config import Settings, load_settings
from worker.run import build_worker
from worker.telemetry import Metrics
from workflows import messages as m
from workflows.errors import Code

NAME = "Erika Mustermann"
EMAIL = "erika.mustermann@example.org"
STATEMENT = {"idempotency_key": "s-1", "role": "public", "statement_type": "objection"}


@pytest.fixture
async def encrypted_settings(
    dev_env: WorkflowEnvironment, database_url: str
) -> AsyncIterator[Settings]:
    async with migrated_schema(database_url, "codec") as schema:
        yield load_settings(
            task_queue=f"codec-{uuid.uuid4().hex[:8]}",
            temporal_address=dev_env.client.service_client.config.target_host,
            database_url=database_url,
            database_schema=schema,
            metrics_port=0,
            payload_keys=f"k1:{base64.b64encode(os.urandom(32)).decode()}",
        )


async def test_statement_with_personal_data_is_encrypted_in_history(
    dev_env: WorkflowEnvironment, encrypted_settings: Settings
) -> None:
    settings = encrypted_settings
    client = await connect(settings)
    pool = await create_pool(settings.database_url, schema=settings.database_schema, max_size=5)
    deps = registry.ActivityDeps(pool=pool, metrics=Metrics(CollectorRegistry()), settings=settings)
    worker = build_worker(
        client,
        settings,
        workflows=registry.WORKFLOWS,
        activities=registry.build_activities(deps),
    )
    try:
        async with worker:
            handle = await support.start(client, settings.task_queue, support.fresh())
            await support.wait_phase(handle, "announcement")
            # a refused update: the code reaches a client without keys, the message does not
            early = {**STATEMENT, "text": f"{NAME} zu früh"}
            for caller, message in ((client, "PHASE_DOES_NOT_ACCEPT: "), (dev_env.client, "")):
                with pytest.raises(WorkflowUpdateFailedError) as refused:
                    await caller.get_workflow_handle(handle.id).execute_update(
                        "submit_statement", early, result_type=m.Receipt
                    )
                cause = refused.value.cause
                assert isinstance(cause, ApplicationError)
                assert cause.type == Code.PHASE_DOES_NOT_ACCEPT
                if message:
                    assert cause.message.startswith(message)
                else:
                    assert cause.message == "Encoded failure"
            await support.advance(handle, "hearing")
            text = f"Einwendung von {NAME} ({EMAIL}): der Weg muss bleiben."
            statement = {**STATEMENT, "text": text}
            receipt = await handle.execute_update(
                "submit_statement", statement, result_type=m.StatementReceipt
            )
            assert receipt.phase_id == "hearing"
            await support.cancel(handle)

            events = (await dev_env.client.get_workflow_handle(handle.id).fetch_history()).events
            stored = History(events=events).SerializeToString()
            assert ENCODING in stored
            assert NAME.encode() not in stored
            assert EMAIL.encode() not in stored
            # the storage activity got the plain text: it reached the database through the codec
            found = await pool.fetchval("SELECT count(*) FROM statements WHERE text = $1", text)
            assert found == 1
    finally:
        for close in deps.closers:
            await close()
        await pool.close()
