"""Mails know which procedure they are about: id, title, kind and the per-procedure link reach
the template context at delivery, through a real SMTP server (aiosmtpd), and nothing personal
of anyone but the recipient does."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import asyncpg

from activities import contracts
from activities.notify import PROCEDURE_HEADER, MailRenderer, TemplateSettings, procedure_facts
from activities.records import NotificationRequest, stable_id
from activities.storage.activities import DeliverOutboxInput, StorageActivities
from activities.storage.settings import StorageSettings
from tests.storage.conftest import PROCEDURE, FreshMetrics, Smtp, participant, procedure_record

PROCEDURE_ID = "bplan nord/2027"  # a workflow id with characters a URL must quote
LINK = "https://beteiligung.heidelberg.example/v/bplan%20nord%2F2027"
SETTINGS = TemplateSettings(
    municipality_name="Stadt Heidelberg",
    procedure_url_template="https://beteiligung.heidelberg.example/v/{procedure_id}",
)


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    content: str = part.get_content()
    return content


def notification(
    template: str, *refs: str, context: dict[str, object] | None = None
) -> NotificationRequest:
    return NotificationRequest(
        procedure_id=PROCEDURE_ID,
        notification_id=stable_id(PROCEDURE_ID, "notification", template),
        template=template,
        audience="public",
        participant_refs=list(refs),
        context=context or {},
    )


async def storage_for(
    pool: asyncpg.Pool, metrics: FreshMetrics, smtp: Smtp, templates: Path | None = None
) -> StorageActivities:
    storage = StorageActivities(
        pool,
        metrics,
        StorageSettings(outbox_backoff_base_seconds=0.0),
        mail_sender=smtp.sender(),
        renderer=MailRenderer(templates, settings=SETTINGS),
    )
    record = procedure_record(PROCEDURE_ID).model_copy(update={"kind": "bauleitplanung"})
    await storage.record_procedure(contracts.RecordProcedureInput(procedure=record))
    for n in (1, 2):
        await storage.register_participant(
            contracts.RegisterParticipantInput(participant=participant(n, PROCEDURE_ID))
        )
    return storage


async def test_a_reminder_links_to_its_procedure_and_names_it(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, smtp: Smtp
) -> None:
    storage = await storage_for(db_pool, metrics, smtp)
    erika = participant(1, PROCEDURE_ID)
    # The engine's context lacks the title: delivery supplies it from the procedures table.
    request = notification("reminder", erika.participant_id, context={"days_left": 3})
    await storage.send_notifications(
        contracts.SendNotificationsInput(procedure_id=PROCEDURE_ID, notifications=[request])
    )
    assert (await storage.deliver_outbox(DeliverOutboxInput())).delivered == 1

    assert smtp.handler.rcpt == [erika.email]
    message = smtp.handler.received[0]
    assert message["Subject"] == "Erinnerung: noch 3 Tage – Bebauungsplan Bahnstadt West"
    assert message[PROCEDURE_HEADER] == PROCEDURE_ID
    assert message["Content-Language"] == "de"
    text = body(message, "plain")
    html = body(message, "html")
    assert f"Zum Verfahren: {LINK}" in text
    assert f"Verfahrensnummer: {PROCEDURE_ID}" in text
    assert f'href="{LINK}"' in html
    assert f"Verfahrensnummer: {PROCEDURE_ID}" in html
    other = participant(2, PROCEDURE_ID)
    raw = message.as_string()
    for personal in (other.name, other.email, other.address, erika.address):
        assert personal is not None
        assert personal not in raw


async def test_kind_and_definition_reach_a_definitions_own_template(
    db_pool: asyncpg.Pool, metrics: FreshMetrics, smtp: Smtp, tmp_path: Path
) -> None:
    (tmp_path / "kind_check.en.j2").write_text(
        '{% if part == "subject" %}{{ procedure_title }} ({{ procedure_kind }})'
        "{% else %}{{ definition_id }} {{ procedure_id }} {{ procedure_url }}{% endif %}",
        encoding="utf-8",
    )
    (tmp_path / "kind_check.de.j2").write_text(
        (tmp_path / "kind_check.en.j2").read_text(encoding="utf-8"), encoding="utf-8"
    )
    storage = await storage_for(db_pool, metrics, smtp, tmp_path)
    erika = participant(1, PROCEDURE_ID)
    title = "Bebauungsplan Nord (Entwurf 2)"
    request = notification("kind_check", erika.participant_id, context={"procedure_title": title})
    await storage.send_notifications(
        contracts.SendNotificationsInput(procedure_id=PROCEDURE_ID, notifications=[request])
    )
    assert (await storage.deliver_outbox(DeliverOutboxInput())).delivered == 1
    message = smtp.handler.received[0]
    assert message["Subject"] == f"{title} (bauleitplanung)"  # the engine's title wins
    assert body(message, "plain").strip() == (f"baugb_3_2 {PROCEDURE_ID} {LINK}")


def test_procedure_facts_leave_out_what_is_unknown() -> None:
    assert procedure_facts(PROCEDURE) == {"procedure_id": PROCEDURE}
    assert procedure_facts(PROCEDURE, title="T", kind="buergerrat", definition_id="d") == {
        "procedure_id": PROCEDURE,
        "procedure_title": "T",
        "procedure_kind": "buergerrat",
        "definition_id": "d",
    }
