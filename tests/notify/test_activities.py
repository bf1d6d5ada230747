"""The notification activities inside Temporal: temporary failures are retried with backoff,
permanent ones and exhausted retries end as an incident while the workflow keeps running.

The SMTP server (aiosmtpd) and the HTTP receiver are real; Temporal is the time-skipping
test server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.notify import (
    DELIVER_WEBHOOK,
    SEND_MAIL,
    STATEMENT_RECEIVED,
    DeliverWebhookInput,
    DeliverWebhookResult,
    MailSender,
    MailSettings,
    NotificationActivities,
    SendMailInput,
    WebhookSender,
    WebhookSubscriber,
    build_event,
)
from tests.helpers import new_worker
from tests.notify.conftest import HttpReceiver, RecordingHandler, Reply, StartSmtp
from tests.notify.samples import SAMPLES

RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=50),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=1),
    maximum_attempts=3,
)


# Unsandboxed: the sandbox would re-import this test module with its fixtures; the real
# Procedure workflow runs sandboxed and imports these activity names and models the same way.
@workflow.defn(sandboxed=False)
class NotifyOrRecordIncident:
    """Stands in for the procedure: notifies, and on failure records an incident and goes on."""

    @workflow.run
    async def run(self, mail: SendMailInput | None, hook: DeliverWebhookInput | None) -> str:
        try:
            if mail is not None:
                await workflow.execute_activity(
                    SEND_MAIL,
                    mail,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=RETRY,
                )
            if hook is not None:
                result = await workflow.execute_activity(
                    DELIVER_WEBHOOK,
                    hook,
                    result_type=DeliverWebhookResult,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=RETRY,
                )
                if not result.delivered:
                    return "filtered"
        except ActivityError as err:
            cause = err.cause
            assert isinstance(cause, ApplicationError)
            return f"incident:{cause.type}:{'permanent' if cause.non_retryable else 'exhausted'}"
        return "delivered"


def mail_input(message_id: str = "n-1") -> SendMailInput:
    return SendMailInput(
        message_id=message_id,
        to="erika@example.org",
        lang="de",
        template_id="reminder",
        context=SAMPLES["reminder"],
    )


async def run_workflow(
    env: WorkflowEnvironment,
    activities: NotificationActivities,
    mail: SendMailInput | None = None,
    hook: DeliverWebhookInput | None = None,
) -> str:
    async with new_worker(
        env.client,
        NotifyOrRecordIncident,
        activities=[activities.send_mail, activities.deliver_webhook],
    ) as worker:
        result: str = await env.client.execute_workflow(
            NotifyOrRecordIncident.run,
            args=[mail, hook],
            id=f"wf-{worker.task_queue}",
            task_queue=worker.task_queue,
        )
        return result


def smtp_activities(port: int) -> NotificationActivities:
    settings = MailSettings(
        host="127.0.0.1", port=port, security="none", from_address="beteiligung@heidelberg.example"
    )
    return NotificationActivities(mail=MailSender(settings))


async def test_greylisted_mail_is_retried_then_delivered(
    env: WorkflowEnvironment, start_smtp: StartSmtp
) -> None:
    handler = RecordingHandler(rcpt_script=["451 4.7.1 Greylisted", "451 4.7.1 Greylisted"])
    server = start_smtp(handler)
    assert await run_workflow(env, smtp_activities(server.port), mail=mail_input()) == "delivered"
    assert handler.rcpt_attempts == 3
    [got] = handler.received
    assert got.message["Message-ID"] == "<n-1@heidelberg.example>"
    assert got.message["Subject"] == "Erinnerung: noch 3 Tage – Bebauungsplan Nord"


async def test_smtp_refusing_mail_is_retried_then_becomes_an_incident(
    env: WorkflowEnvironment, start_smtp: StartSmtp
) -> None:
    handler = RecordingHandler(rcpt_reply="451 4.3.0 Mail server temporarily rejected message")
    server = start_smtp(handler)
    result = await run_workflow(env, smtp_activities(server.port), mail=mail_input())
    assert result == "incident:DeliveryError:exhausted"
    assert handler.rcpt_attempts == RETRY.maximum_attempts
    assert handler.received == []


async def test_permanent_refusal_is_not_retried(
    env: WorkflowEnvironment, start_smtp: StartSmtp
) -> None:
    handler = RecordingHandler(rcpt_reply="550 5.1.1 <{address}>: User unknown")
    server = start_smtp(handler)
    result = await run_workflow(env, smtp_activities(server.port), mail=mail_input())
    assert result == "incident:DeliveryError:permanent"
    assert handler.rcpt_attempts == 1


async def test_template_error_is_a_permanent_incident(
    env: WorkflowEnvironment, start_smtp: StartSmtp
) -> None:
    server = start_smtp()
    broken = SendMailInput(
        message_id="n-2", to="erika@example.org", template_id="reminder", context={}
    )
    result = await run_workflow(env, smtp_activities(server.port), mail=broken)
    assert result == "incident:TemplateError:permanent"
    assert server.handler.rcpt_attempts == 0


@pytest.mark.parametrize(
    ("replies", "expected", "attempts"),
    [
        ([Reply(status=503), Reply(status=200)], "delivered", 2),
        (
            [Reply(status=429), Reply(status=429), Reply(status=429)],
            "incident:DeliveryError:exhausted",
            3,
        ),
        ([Reply(status=400)], "incident:DeliveryError:permanent", 1),
        # The receiver never answers the first request: the sender times out, Temporal retries.
        ([Reply(hang=True), Reply(status=204)], "delivered", 2),
    ],
)
async def test_webhook_activity_retries_by_status(
    env: WorkflowEnvironment,
    receiver: HttpReceiver,
    replies: list[Reply],
    expected: str,
    attempts: int,
) -> None:
    receiver.replies = replies
    subscriber = WebhookSubscriber(
        id="portal",
        url=receiver.url,
        secret="whsec-test-0123456789abcdef",  # type: ignore[arg-type]
    )
    event = build_event(
        STATEMENT_RECEIVED,
        message_id="evt-9",
        procedure_id="bp-nord-2027",
        time=workflow_time(),
        data={"statement_id": "s-1"},
    )
    # Short enough to keep the hanging case quick, long enough for a local answer on a busy CI.
    async with WebhookSender(timeout_seconds=2) as sender:
        activities = NotificationActivities(webhooks=sender, subscribers={"portal": subscriber})
        hook = DeliverWebhookInput(subscriber_id="portal", event=event)
        assert await run_workflow(env, activities, hook=hook) == expected
    assert len(receiver.requests) == attempts


async def test_filtered_and_unknown_subscribers(
    env: WorkflowEnvironment, receiver: HttpReceiver
) -> None:
    only_commitments = WebhookSubscriber(
        id="council",
        url=receiver.url,
        secret="whsec-test-0123456789abcdef",  # type: ignore[arg-type]
        event_types=("de.civicflow.commitment.*",),
    )
    event = build_event(
        STATEMENT_RECEIVED, message_id="evt-10", procedure_id="bp", time=workflow_time()
    )
    async with WebhookSender() as sender:
        activities = NotificationActivities(
            webhooks=sender, subscribers={"council": only_commitments}
        )
        filtered = DeliverWebhookInput(subscriber_id="council", event=event)
        unknown = DeliverWebhookInput(subscriber_id="nobody", event=event)
        assert await run_workflow(env, activities, hook=filtered) == "filtered"
        assert await run_workflow(env, activities, hook=unknown) == "incident:ConfigError:permanent"
    assert receiver.requests == []


def workflow_time() -> datetime:
    return datetime(2027, 1, 20, 14, 5, tzinfo=UTC)
