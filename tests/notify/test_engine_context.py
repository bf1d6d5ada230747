"""Templates render with the context the procedure engine really sends, plus deployment facts.

The engine knows little (title, phase, round, period); municipality name and links come from
`TemplateSettings`. A template that needed more would turn every such notification into an
incident, so this is the contract between workflows/ and the templates.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from activities.notify import STANDARD_TEMPLATES, MailRenderer, TemplateSettings
from tests.notify.samples import ENGINE_CONTEXT

ENGINE_TEMPLATES = [t for t in STANDARD_TEMPLATES if t != "statement_receipt"]
SETTINGS = TemplateSettings(
    municipality_name="Stadt Heidelberg",
    procedure_url_template="https://beteiligung.heidelberg.example/v/{procedure_id}",
)


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize("template_id", ENGINE_TEMPLATES)
def test_engine_context_renders_every_template_it_uses(template_id: str, lang: str) -> None:
    context = {**ENGINE_CONTEXT, "procedure_id": "bp nord/2027"}
    mail = MailRenderer(settings=SETTINGS).render(template_id, lang, context)
    assert "Bebauungsplan Nord" in mail.subject
    assert "Stadt Heidelberg" in mail.text
    link = "https://beteiligung.heidelberg.example/v/bp%20nord%2F2027"
    assert link in mail.text
    assert f'href="{link}"' in mail.html
    assert "None" not in mail.text


def test_engine_reminder_uses_period_end_and_phase_title() -> None:
    renderer = MailRenderer(settings=SETTINGS)
    de = renderer.render("reminder", "de", ENGINE_CONTEXT)
    en = renderer.render("reminder", "en", ENGINE_CONTEXT)
    assert de.subject == "Erinnerung: Frist endet am 12. Februar 2027 – Bebauungsplan Nord"
    assert "(Phase „Veröffentlichung“) endet am 12. Februar 2027." in de.text
    assert '(phase "Publication") ends on 12 February 2027.' in en.text


def test_engine_escalation_lists_overdue_commitments() -> None:
    renderer = MailRenderer(settings=SETTINGS)
    ids = renderer.render(
        "commitment_overdue", "de", {**ENGINE_CONTEXT, "commitments": ["c1", "c2"]}
    )
    assert ids.subject == "2 Selbstverpflichtungen sind überfällig – Bebauungsplan Nord"
    one = renderer.render("commitment_overdue", "en", {**ENGINE_CONTEXT, "commitments": ["c1"]})
    assert one.subject == "One commitment is overdue – Bebauungsplan Nord"
    items = [
        {"title": "Radweg <Nord>", "due_date": "2027-09-30", "owner_organisation": "Tiefbauamt"},
        {"title": "Spielplatz", "due_date": "2027-10-31"},
    ]
    listed = renderer.render("commitment_overdue", "de", {**ENGINE_CONTEXT, "commitments": items})
    assert "- Radweg <Nord> (Tiefbauamt), fällig am 30. September 2027" in listed.text
    assert "- Spielplatz, fällig am 31. Oktober 2027" in listed.text
    assert "<li>Radweg &lt;Nord&gt; (Tiefbauamt), fällig am 30. September 2027</li>" in listed.html


def test_without_settings_the_mail_still_renders_with_a_neutral_sender() -> None:
    renderer = MailRenderer(settings=TemplateSettings())
    de = renderer.render("invitation", "de", ENGINE_CONTEXT)
    en = renderer.render("invitation", "en", ENGINE_CONTEXT)
    assert "Ihre Gemeinde lädt Sie ein" in de.text
    assert "Your municipality invites you" in en.text
    assert "href=" not in de.html  # no link configured: none invented


def test_portal_url_is_the_fallback_link_and_context_wins() -> None:
    portal = MailRenderer(settings=TemplateSettings(portal_url="https://portal.example.org/"))
    assert "https://portal.example.org/" in portal.render("reminder", "de", ENGINE_CONTEXT).text
    given = {**ENGINE_CONTEXT, "procedure_url": "https://elsewhere.example.org/p"}
    text = portal.render("reminder", "de", given).text
    assert "https://elsewhere.example.org/p" in text
    assert "https://portal.example.org/" not in text


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVICFLOW_NOTIFY_MUNICIPALITY_NAME", "Gemeinde Wiesloch")
    monkeypatch.setenv("CIVICFLOW_NOTIFY_PORTAL_URL", "https://wiesloch.example/beteiligung")
    mail = MailRenderer().render("announcement", "de", ENGINE_CONTEXT)
    assert mail.text.startswith("Bekanntmachung\n\nGemeinde Wiesloch veröffentlicht")
    assert "https://wiesloch.example/beteiligung" in mail.text
    with pytest.raises(ValidationError, match=r"expected a URL containing \{procedure_id\}"):
        TemplateSettings(procedure_url_template="https://portal.example.org/v/")


def test_instants_are_dated_in_berlin() -> None:
    # 23:30 UTC on 31 December is already 1 January in Berlin.
    context = {**ENGINE_CONTEXT, "period_end": datetime(2026, 12, 31, 23, 30, tzinfo=UTC)}
    mail = MailRenderer(settings=SETTINGS).render("reminder", "de", context)
    assert "endet am 1. Januar 2027" in mail.text
