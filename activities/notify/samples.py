"""Example contexts for every standard template: documentation, previews and tests.

`preview(template_id, lang)` renders a template with its example, so an administrator can see
a mail before a procedure sends it (and a template change can be checked by eye).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from activities.notify.templates import MailRenderer, RenderedMail

__all__ = ["PROCEDURE_URL", "SAMPLE_CONTEXTS", "preview"]

PROCEDURE_URL = "https://beteiligung.example.org/verfahren/bp-nord"

_BASE: dict[str, Any] = {
    "procedure_title": "Bebauungsplan Nord",
    "municipality_name": "Stadt Heidelberg",
    "procedure_url": PROCEDURE_URL,
}

SAMPLE_CONTEXTS: Mapping[str, Mapping[str, Any]] = {
    "invitation": {
        **_BASE,
        "registration_deadline": date(2026, 12, 31),
        "registration_url": "https://beteiligung.example.org/anmeldung/bp-nord",
    },
    "announcement": {
        **_BASE,
        "period_start": date(2027, 1, 11),
        "period_end": "2027-02-12",
        "round": 2,
        "late_statement_warning": True,
    },
    "reminder": {**_BASE, "deadline": date(2027, 2, 12), "days_left": 3},
    "statement_receipt": {
        **_BASE,
        "statement_id": "6b0e4a1c-2f5d-5b7e-9c3a-1d2e3f4a5b6c",
        "received_at": datetime(2027, 1, 20, 14, 5, tzinfo=UTC),
        "receipt_digest": "a" * 64,
        "round": 1,
        "late": False,
    },
    "decision_published": {
        **_BASE,
        "decision_title": "Satzungsbeschluss",
        "decision_body": "der Gemeinderat",
        "decided_at": "2027-05-04",
        "decision_summary": "Der Bebauungsplan wird als Satzung beschlossen.",
    },
    "commitment_due": {
        **_BASE,
        "commitment_title": "Radweg Nordstraße",
        "measurable_aim": "2 km Radweg fertiggestellt",
        "owner_organisation": "Tiefbauamt",
        "due_date": date(2027, 9, 30),
        "days_left": 14,
        "report_url": "https://beteiligung.example.org/bericht/c-1",
    },
    "commitment_overdue": {
        **_BASE,
        "commitment_title": "Radweg Nordstraße",
        "measurable_aim": "2 km Radweg fertiggestellt",
        "owner_organisation": "Tiefbauamt",
        "due_date": date(2027, 9, 30),
        "days_overdue": 1,
        "escalated_to": "die Bürgermeisterin",
    },
}


def preview(template_id: str, lang: str, renderer: MailRenderer | None = None) -> RenderedMail:
    """Render a standard template with its example context."""
    context = SAMPLE_CONTEXTS.get(template_id)
    if context is None:
        known = ", ".join(sorted(SAMPLE_CONTEXTS))
        msg = f"template_id: no example context for {template_id!r}; expected one of {known}"
        raise KeyError(msg)
    return (renderer or MailRenderer()).render(template_id, lang, context)
