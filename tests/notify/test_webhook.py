"""Webhooks against a real local HTTP receiver: CloudEvents body, signature, retry classes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from activities.notify import (
    COMMITMENT_OVERDUE,
    SIGNATURE_HEADER,
    STATEMENT_RECEIVED,
    CloudEvent,
    DeliveryError,
    SignatureError,
    WebhookSender,
    WebhookSubscriber,
    build_event,
    signature_header,
    verify_signature,
)
from tests.helpers import free_port
from tests.notify.conftest import HttpReceiver, Reply

SECRET = "whsec-test-0123456789abcdef"
OCCURRED = datetime(2027, 1, 20, 14, 5, 9, tzinfo=UTC)


def subscriber(url: str, **extra: object) -> WebhookSubscriber:
    return WebhookSubscriber(id="portal", url=url, secret=SECRET, **extra)  # type: ignore[arg-type]


def statement_event(message_id: str = "evt-1") -> CloudEvent:
    return build_event(
        STATEMENT_RECEIVED,
        message_id=message_id,
        procedure_id="bp-nord-2027",
        time=OCCURRED,
        data={"statement_id": "s-17", "round": 1, "late": False},
    )


async def test_delivered_event_is_a_signed_cloudevent(receiver: HttpReceiver) -> None:
    async with WebhookSender(timeout_seconds=5) as sender:
        await sender.deliver(subscriber(receiver.url), statement_event())

    [request] = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/civicflow?token=url-secret"
    assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    body = json.loads(request.body)
    assert body == {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "urn:civicflow",
        "type": "de.civicflow.statement.received",
        "time": "2027-01-20T14:05:09Z",
        "datacontenttype": "application/json",
        "subject": "bp-nord-2027",
        "data": {"statement_id": "s-17", "round": 1, "late": False},
    }
    # The receiver's side: the signature checks out over the raw body, within the window.
    signed_at = verify_signature(SECRET, request.headers[SIGNATURE_HEADER.lower()], request.body)
    assert abs(signed_at - time.time()) < 300
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(
            "another-secret-of-length", request.headers["civicflow-signature"], request.body
        )


async def test_redelivery_carries_the_same_event_id(receiver: HttpReceiver) -> None:
    async with WebhookSender() as sender:
        await sender.deliver(subscriber(receiver.url), statement_event("evt-7"), now=1_800_000_000)
        await sender.deliver(subscriber(receiver.url), statement_event("evt-7"), now=1_800_000_060)
    ids = [json.loads(r.body)["id"] for r in receiver.requests]
    assert ids == ["evt-7", "evt-7"]
    stamps = [r.headers["civicflow-signature"].split(",")[0] for r in receiver.requests]
    assert stamps == ["t=1800000000", "t=1800000060"]


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
async def test_server_errors_408_and_429_are_retryable(receiver: HttpReceiver, status: int) -> None:
    receiver.replies = [Reply(status=status)]
    async with WebhookSender() as sender:
        with pytest.raises(DeliveryError) as caught:
            await sender.deliver(subscriber(receiver.url), statement_event())
    assert caught.value.retryable is True
    assert caught.value.status == status
    assert caught.value.channel == "webhook"
    assert f"HTTP {status}" in str(caught.value)
    assert "url-secret" not in str(caught.value)  # a token in the URL stays out of logs


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 302])
async def test_other_client_errors_and_redirects_are_not_retryable(
    receiver: HttpReceiver, status: int
) -> None:
    receiver.replies = [Reply(status=status, headers={"Location": "http://127.0.0.1:1/elsewhere"})]
    async with WebhookSender() as sender:
        with pytest.raises(DeliveryError) as caught:
            await sender.deliver(subscriber(receiver.url), statement_event())
    assert caught.value.retryable is False
    assert caught.value.status == status
    assert len(receiver.requests) == 1  # a redirect is not followed


@pytest.mark.parametrize(("value", "seconds"), [("120", 120.0), ("99999999", 86_400.0)])
async def test_retry_after_is_passed_on_within_a_day(
    receiver: HttpReceiver, value: str, seconds: float
) -> None:
    receiver.replies = [Reply(status=503, headers={"Retry-After": value})]
    async with WebhookSender() as sender:
        with pytest.raises(DeliveryError) as caught:
            await sender.deliver(subscriber(receiver.url), statement_event())
    assert caught.value.retry_after == seconds


async def test_retry_after_as_http_date(receiver: HttpReceiver) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    receiver.replies = [Reply(status=429, headers={"Retry-After": later})]
    async with WebhookSender() as sender:
        with pytest.raises(DeliveryError) as caught:
            await sender.deliver(subscriber(receiver.url), statement_event())
    assert caught.value.retry_after is not None
    assert 3000 < caught.value.retry_after <= 3600


async def test_retry_then_success(receiver: HttpReceiver) -> None:
    receiver.replies = [Reply(status=503), Reply(status=200)]
    async with WebhookSender() as sender:
        with pytest.raises(DeliveryError):
            await sender.deliver(subscriber(receiver.url), statement_event())
        await sender.deliver(subscriber(receiver.url), statement_event())
    assert [json.loads(r.body)["id"] for r in receiver.requests] == ["evt-1", "evt-1"]


async def test_timeout_is_retryable(receiver: HttpReceiver) -> None:
    receiver.replies = [Reply(hang=True)]  # the receiver never answers
    async with WebhookSender(timeout_seconds=0.3) as sender:
        with pytest.raises(DeliveryError, match="timed out") as caught:
            await sender.deliver(subscriber(receiver.url), statement_event())
    assert caught.value.retryable is True
    assert caught.value.status is None


async def test_refused_connection_is_retryable() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    async with WebhookSender() as sender:
        with pytest.raises(DeliveryError, match="connection failed") as caught:
            await sender.deliver(subscriber(url), statement_event())
    assert caught.value.retryable is True


async def test_shared_client_is_not_closed_by_the_sender(receiver: HttpReceiver) -> None:
    async with httpx.AsyncClient() as client:
        sender = WebhookSender(client)
        await sender.deliver(subscriber(receiver.url), statement_event())
        await sender.aclose()
        assert not client.is_closed
    assert len(receiver.requests) == 1


def test_signature_rejects_tampering_and_replays() -> None:
    body = statement_event().to_json_bytes()
    header = signature_header(SECRET, 1_800_000_000, body)
    assert verify_signature(SECRET, header, body, now=1_800_000_100) == 1_800_000_000
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, header, body.replace(b"s-17", b"s-18"), now=1_800_000_000)
    with pytest.raises(SignatureError, match="outside the 300s replay window"):
        verify_signature(SECRET, header, body, now=1_800_000_301)
    with pytest.raises(SignatureError, match="outside the 60s replay window"):
        verify_signature(
            SECRET, header, body, now=1_800_000_000 - 61, tolerance=timedelta(seconds=60)
        )
    aware_now = datetime.fromtimestamp(1_800_000_010, tz=UTC)
    assert verify_signature(SECRET, header, body, now=aware_now) == 1_800_000_000


def test_signature_header_problems_are_named() -> None:
    body = b"{}"
    with pytest.raises(SignatureError, match="missing Civicflow-Signature"):
        verify_signature(SECRET, None, body)
    with pytest.raises(SignatureError, match="expected 't=<unix>,v1=<hex>'"):
        verify_signature(SECRET, "v1=abc", body)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, "t=1800000000,v1=\u00e4\u00f6\u00fc", body, now=1_800_000_000)
    with pytest.raises(SignatureError, match="t must be unix seconds"):
        verify_signature(SECRET, "t=yesterday,v1=abc", body)
    # A forged timestamp invalidates the signature: t is part of what is signed.
    good = signature_header(SECRET, 1_800_000_000, body)
    forged = good.replace("t=1800000000", "t=1800000100")
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, forged, body, now=1_800_000_100)


def test_signature_accepts_any_of_several_v1_during_secret_rotation() -> None:
    body = b'{"id":"x"}'
    old = signature_header("old-secret-0123456789", 1_800_000_000, body)
    new = signature_header(SECRET, 1_800_000_000, body)
    header = f"{old},{new.split(',')[1]}"
    assert verify_signature(SECRET, header, body, now=1_800_000_000) == 1_800_000_000


def test_subscriber_filters() -> None:
    everything = subscriber("https://portal.example.org/hook")
    commitments = subscriber(
        "https://portal.example.org/hook", event_types=("de.civicflow.commitment.*",)
    )
    one_procedure = subscriber("https://portal.example.org/hook", procedure_ids=("bp-süd",))
    overdue = build_event(
        COMMITMENT_OVERDUE, message_id="e-2", procedure_id="bp-nord-2027", time=OCCURRED
    )
    assert everything.accepts(statement_event())
    assert commitments.accepts(overdue)
    assert not commitments.accepts(statement_event())
    assert not one_procedure.accepts(overdue)


def test_subscriber_validation_and_secret_hiding() -> None:
    with pytest.raises(ValidationError, match="url: expected an http"):
        subscriber("ftp://portal.example.org/hook")
    with pytest.raises(ValidationError, match="secret: expected at least 16"):
        WebhookSubscriber(id="p", url="https://portal.example.org", secret="short")  # type: ignore[arg-type]
    assert SECRET not in repr(subscriber("https://portal.example.org/hook"))


def test_event_builder_refuses_unknown_types_and_naive_times() -> None:
    with pytest.raises(
        ValueError, match=r"unknown CloudEvents type 'de\.civicflow\.statement\.recieved'"
    ):
        build_event(
            "de.civicflow.statement.recieved", message_id="e", procedure_id="p", time=OCCURRED
        )
    with pytest.raises(ValidationError, match="timezone-aware"):
        build_event(STATEMENT_RECEIVED, message_id="e", procedure_id="p", time=datetime(2027, 1, 1))
    event = CloudEvent(id="e", type="de.civicflow.custom", time=OCCURRED)
    assert b'"subject"' not in event.to_json_bytes()


@given(
    body=st.binary(min_size=1, max_size=2048),
    secret=st.text(min_size=16, max_size=64),
    timestamp=st.integers(min_value=0, max_value=4_000_000_000),
    flip=st.integers(min_value=0),
)
def test_any_changed_byte_breaks_the_signature(
    body: bytes, secret: str, timestamp: int, flip: int
) -> None:
    header = signature_header(secret, timestamp, body)
    assert verify_signature(secret, header, body, now=timestamp) == timestamp
    position = flip % len(body)
    tampered = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]
    with pytest.raises(SignatureError):
        verify_signature(secret, header, tampered, now=timestamp)
