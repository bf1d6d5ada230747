"""Outbox: rows written with their cause, delivered once per message id over real HTTP and
SMTP, retried with backoff, and turned into incidents (listed, counted) instead of dropped."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest

from activities import contracts
from activities.notify.webhook import SIGNATURE_HEADER, WebhookSender, verify_signature
from activities.records import NotificationRequest, stable_id
from activities.storage.activities import DeliverOutboxInput, StorageActivities
from activities.storage.erasure import erase_participant
from activities.storage.outbox import BackoffPolicy, list_incidents, requeue
from activities.storage.pump import pump_outbox
from tests.helpers import assert_eq_eventually
from tests.storage.conftest import (
    PROCEDURE,
    WEBHOOK_SECRET,
    FreshMetrics,
    HttpReceiver,
    Smtp,
    event,
    participant,
    storage_with,
)

DELIVER = DeliverOutboxInput()


async def subscribe(
    pool: asyncpg.Pool,
    url: str,
    *,
    sub_id: str = "portal",
    kind: str | None = "baugb_3_2",
    municipality: str | None = None,
    types: list[str] | None = None,
) -> None:
    await pool.execute(
        "INSERT INTO webhook_subscriptions (subscription_id, url, secret_ref, procedure_kind, "
        "municipality, event_types) VALUES ($1, $2, 'hooks-portal', $3, $4, $5)",
        sub_id,
        url,
        kind,
        municipality,
        types,
    )


async def outbox(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM outbox ORDER BY created_at, message_id")


def reminder(*refs: str, audience: str = "public", key: str = "r1") -> NotificationRequest:
    return NotificationRequest(
        procedure_id=PROCEDURE,
        notification_id=stable_id(PROCEDURE, "notification", key),
        template="reminder",
        audience=audience,
        participant_refs=list(refs),
        context={
            "procedure_title": "Bebauungsplan Bahnstadt West",
            "municipality_name": "Stadt Heidelberg",
            "procedure_url": "https://beteiligung.example.org/verfahren/bahnstadt",
            "deadline": "2026-04-10",
            "days_left": 3,
        },
    )


def test_backoff_grows_exponentially_up_to_the_maximum() -> None:
    policy = BackoffPolicy(base=timedelta(seconds=30), maximum=timedelta(minutes=5))
    delays = [policy.delay(n).total_seconds() for n in range(1, 6)]
    assert delays == [30, 60, 120, 240, 300]
    assert policy.delay(1, retry_after=90).total_seconds() == 90


async def test_events_enqueue_webhooks_in_their_transaction_once(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    await subscribe(db_pool, "http://127.0.0.1:9/a", types=["de.civicflow.phase.*"])
    await subscribe(db_pool, "http://127.0.0.1:9/b", sub_id="other-town", municipality="01001000")
    await subscribe(db_pool, "http://127.0.0.1:9/c", sub_id="decisions", types=["*.decision.*"])
    call = contracts.AppendEventsInput(procedure_id=procedure, events=[event(1), event(2)])
    first, again = await asyncio.gather(storage.append_events(call), storage.append_events(call))
    assert sorted([(first.appended, first.duplicates), (again.appended, again.duplicates)]) == [
        (0, 2),
        (2, 0),
    ]
    rows = await outbox(db_pool)
    assert [(r["channel"], r["recipient"], r["status"]) for r in rows] == [
        ("webhook", "portal", "pending"),
        ("webhook", "portal", "pending"),
    ]
    payload = json.loads(rows[0]["payload"])
    assert payload["type"] == "de.civicflow.phase.changed"
    assert payload["data"]["phase"] == "auslegung"


async def test_event_types_outside_the_catalogue_are_not_sent(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    await subscribe(db_pool, "http://127.0.0.1:9/a")
    internal = event(1, type="statement.weighed")
    await storage.append_events(
        contracts.AppendEventsInput(procedure_id=procedure, events=[internal])
    )
    assert await outbox(db_pool) == []


async def test_webhook_is_delivered_signed_with_a_stable_id(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, receiver: HttpReceiver, procedure: str
) -> None:
    async with WebhookSender() as sender:
        storage = storage_with(db_pool, metrics, webhooks=sender)
        await subscribe(db_pool, receiver.url)
        await storage.append_events(
            contracts.AppendEventsInput(procedure_id=procedure, events=[event(1)])
        )
        result = await storage.deliver_outbox(DELIVER)
        nothing_left = await storage.deliver_outbox(DELIVER)
    assert (result.claimed, result.delivered) == (1, 1)
    assert nothing_left.claimed == 0
    assert len(receiver.hits) == 1
    hit = receiver.hits[0]
    verify_signature(WEBHOOK_SECRET, hit.headers[SIGNATURE_HEADER.lower()], hit.body)
    body = json.loads(hit.body)
    row = (await outbox(db_pool))[0]
    assert body["id"] == str(row["message_id"])
    assert body["subject"] == procedure
    assert row["status"] == "delivered"


async def test_failing_webhook_backs_off_exponentially(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, receiver: HttpReceiver, procedure: str
) -> None:
    receiver.status = 503
    async with WebhookSender() as sender:
        storage = storage_with(db_pool, metrics, webhooks=sender, backoff_seconds=30)
        await subscribe(db_pool, receiver.url)
        await storage.append_events(
            contracts.AppendEventsInput(procedure_id=procedure, events=[event(1)])
        )
        first = await storage.deliver_outbox(DELIVER)
        not_due = await storage.deliver_outbox(DELIVER)  # the retry waits 30 s: nothing due
        waited = await db_pool.fetchval("SELECT next_attempt_at - updated_at FROM outbox")
        await db_pool.execute("UPDATE outbox SET next_attempt_at = now()")  # time passes
        await storage.deliver_outbox(DELIVER)
        waited_again = await db_pool.fetchval("SELECT next_attempt_at - updated_at FROM outbox")
    assert (first.claimed, first.retried) == (1, 1)
    assert not_due.claimed == 0
    assert (waited, waited_again) == (timedelta(seconds=30), timedelta(seconds=60))
    row = (await outbox(db_pool))[0]
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert "HTTP 503" in row["last_error"]


async def test_retries_end_in_an_incident_that_is_listed_and_counted(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, receiver: HttpReceiver, procedure: str
) -> None:
    receiver.status = 500
    async with WebhookSender() as sender:
        storage = storage_with(db_pool, metrics, webhooks=sender, max_attempts=3)
        await subscribe(db_pool, receiver.url)
        await storage.append_events(
            contracts.AppendEventsInput(procedure_id=procedure, events=[event(1)])
        )
        results = [await storage.deliver_outbox(DELIVER) for _ in range(4)]
    assert [(r.retried, r.incidents) for r in results] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    assert len(receiver.hits) == 3
    assert results[-1].open_incidents == 1
    assert metrics.value("civicflow_outbox_incidents") == 1
    incidents = await list_incidents(db_pool, procedure_id=procedure)
    assert [(i.channel, i.attempts) for i in incidents] == [("webhook", 3)]
    assert "HTTP 500" in (incidents[0].last_error or "")
    # The operator fixes the receiver and requeues: delivered, the gauge drops.
    receiver.status = 200
    assert await requeue(db_pool, incidents[0].message_id)
    async with WebhookSender() as sender:
        storage = storage_with(db_pool, metrics, webhooks=sender)
        after = await storage.deliver_outbox(DELIVER)
    assert (after.delivered, after.open_incidents) == (1, 0)
    assert metrics.value("civicflow_outbox_incidents") == 0


async def test_permanent_http_error_is_an_incident_at_once(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, receiver: HttpReceiver, procedure: str
) -> None:
    receiver.status = 400
    async with WebhookSender() as sender:
        storage = storage_with(db_pool, metrics, webhooks=sender, max_attempts=5)
        await subscribe(db_pool, receiver.url)
        await storage.append_events(
            contracts.AppendEventsInput(procedure_id=procedure, events=[event(1)])
        )
        result = await storage.deliver_outbox(DELIVER)
    assert (result.incidents, len(receiver.hits)) == (1, 1)


async def test_concurrent_deliverers_send_each_message_once(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, receiver: HttpReceiver, procedure: str
) -> None:
    await subscribe(db_pool, receiver.url)
    events = [event(n) for n in range(1, 13)]
    async with WebhookSender() as one, WebhookSender() as two:
        first = storage_with(db_pool, metrics, webhooks=one)
        second = storage_with(db_pool, metrics, webhooks=two)
        await first.append_events(
            contracts.AppendEventsInput(procedure_id=procedure, events=events)
        )
        small = DeliverOutboxInput(limit=4)
        results = await asyncio.gather(
            *(worker.deliver_outbox(small) for worker in (first, second, first, second))
        )
    assert sum(r.delivered for r in results) == 12
    assert len(receiver.hits) == 12
    assert len({json.loads(hit.body)["id"] for hit in receiver.hits}) == 12


async def test_mail_goes_to_the_participant_once_with_a_stable_message_id(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, smtp: Smtp, procedure: str
) -> None:
    storage = storage_with(db_pool, metrics, mail=smtp.sender())
    erika = participant(1)
    await storage.register_participant(contracts.RegisterParticipantInput(participant=erika))
    call = contracts.SendNotificationsInput(
        procedure_id=procedure, notifications=[reminder(erika.participant_id)]
    )
    first = await storage.send_notifications(call)
    again = await storage.send_notifications(call)
    assert (first.enqueued, again.enqueued, again.duplicates) == (1, 0, 1)
    row = (await outbox(db_pool))[0]
    assert "erika" not in row["payload"]  # the address is read at delivery, not stored here
    result = await storage.deliver_outbox(DELIVER)
    assert result.delivered == 1
    assert smtp.handler.rcpt == [erika.email]
    message = smtp.handler.received[0]
    assert str(row["message_id"]) in message["Message-ID"]
    assert message["Content-Language"] == "de"
    assert "Bebauungsplan Bahnstadt West" in message["Subject"]


async def test_audience_without_refs_reaches_every_member_of_the_role(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    for n, role in ((1, "toeb"), (2, "toeb"), (3, "citizen")):
        await storage.register_participant(
            contracts.RegisterParticipantInput(participant=participant(n, role=role))
        )
    await storage.send_notifications(
        contracts.SendNotificationsInput(
            procedure_id=procedure, notifications=[reminder(audience="toeb")]
        )
    )
    recipients = {r["recipient"] for r in await outbox(db_pool)}
    assert recipients == {participant(1).participant_id, participant(2).participant_id}


@pytest.mark.parametrize(
    ("reply", "runs", "hits"), [("451 4.3.0 try later", 2, 2), ("550 5.1.1 no", 1, 1)]
)
async def test_refusing_smtp_server_ends_in_an_incident(
    db_pool: asyncpg.Pool,
    metrics: FreshMetrics,
    smtp: Smtp,
    procedure: str,
    reply: str,
    runs: int,
    hits: int,
) -> None:
    smtp.handler.data_reply = reply
    storage = storage_with(db_pool, metrics, mail=smtp.sender(), max_attempts=2)
    erika = participant(1)
    await storage.register_participant(contracts.RegisterParticipantInput(participant=erika))
    await storage.send_notifications(
        contracts.SendNotificationsInput(
            procedure_id=procedure, notifications=[reminder(erika.participant_id)]
        )
    )
    results = [await storage.deliver_outbox(DELIVER) for _ in range(runs)]
    assert results[-1].incidents == 1
    assert sum(r.claimed for r in results) == hits
    row = (await outbox(db_pool))[0]
    assert row["status"] == "incident"
    assert reply.split()[0] in row["last_error"]
    assert erika.email not in row["last_error"]


async def test_mail_to_an_erased_participant_is_cancelled_not_sent(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, smtp: Smtp, procedure: str
) -> None:
    storage = storage_with(db_pool, metrics, mail=smtp.sender())
    erika = participant(1)
    await storage.register_participant(contracts.RegisterParticipantInput(participant=erika))
    await storage.send_notifications(
        contracts.SendNotificationsInput(
            procedure_id=procedure, notifications=[reminder(erika.participant_id)]
        )
    )
    erased = await erase_participant(db_pool, erika.participant_id)
    result = await storage.deliver_outbox(DELIVER)
    assert erased.mails_cancelled == 1
    assert result.claimed == 0
    assert smtp.handler.received == []
    assert (await outbox(db_pool))[0]["status"] == "cancelled"


async def test_pump_delivers_in_the_background_until_stopped(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, receiver: HttpReceiver, procedure: str
) -> None:
    await subscribe(db_pool, receiver.url)
    stop = asyncio.Event()
    async with WebhookSender() as sender:
        storage = storage_with(db_pool, metrics, webhooks=sender)
        pump = asyncio.create_task(
            pump_outbox(storage.deliver_outbox, stop=stop, interval=0.05, batch=2)
        )
        await storage.append_events(
            contracts.AppendEventsInput(
                procedure_id=procedure, events=[event(n) for n in range(1, 6)]
            )
        )

        async def delivered() -> int:
            return int(
                await db_pool.fetchval("SELECT count(*) FROM outbox WHERE status = 'delivered'")
            )

        await assert_eq_eventually(5, delivered)
        stop.set()
        total = await pump
    assert total == 5
    assert len(receiver.hits) == 5


async def test_public_audience_reaches_every_registered_participant(
    storage: StorageActivities, db_pool: asyncpg.Pool, procedure: str
) -> None:
    for n, role in ((1, "citizen"), (2, "toeb")):
        await storage.register_participant(
            contracts.RegisterParticipantInput(participant=participant(n, role=role))
        )
    await storage.send_notifications(
        contracts.SendNotificationsInput(procedure_id=procedure, notifications=[reminder()])
    )
    nobody = await storage.send_notifications(
        contracts.SendNotificationsInput(
            procedure_id=procedure, notifications=[reminder(audience="panel", key="r2")]
        )
    )
    assert len(await outbox(db_pool)) == 2
    assert (nobody.enqueued, nobody.duplicates) == (0, 0)
