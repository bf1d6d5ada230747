"""Sample template contexts: every variable each standard template needs (and optional ones)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

PROCEDURE_URL = "https://beteiligung.example.org/verfahren/bp-nord"

BASE: dict[str, Any] = {
    "procedure_title": "Bebauungsplan Nord",
    "municipality_name": "Stadt Heidelberg",
    "procedure_url": PROCEDURE_URL,
}

SAMPLES: dict[str, dict[str, Any]] = {
    "invitation": {
        **BASE,
        "registration_deadline": date(2026, 12, 31),
        "registration_url": "https://beteiligung.example.org/anmeldung/bp-nord",
    },
    "announcement": {
        **BASE,
        "period_start": date(2027, 1, 11),
        "period_end": "2027-02-12",
        "round": 2,
        "late_statement_warning": True,
    },
    "reminder": {**BASE, "deadline": date(2027, 2, 12), "days_left": 3},
    "statement_receipt": {
        **BASE,
        "statement_id": "6b0e4a1c-2f5d-5b7e-9c3a-1d2e3f4a5b6c",
        "received_at": datetime(2027, 1, 20, 14, 5, tzinfo=UTC),
        "receipt_digest": "a" * 64,
        "round": 1,
        "late": False,
    },
    "decision_published": {
        **BASE,
        "decision_title": "Satzungsbeschluss",
        "decision_body": "der Gemeinderat",
        "decided_at": "2027-05-04",
        "decision_summary": "Der Bebauungsplan wird als Satzung beschlossen.",
    },
    "commitment_due": {
        **BASE,
        "commitment_title": "Radweg Nordstraße",
        "measurable_aim": "2 km Radweg fertiggestellt",
        "owner_organisation": "Tiefbauamt",
        "due_date": date(2027, 9, 30),
        "days_left": 14,
        "report_url": "https://beteiligung.example.org/bericht/c-1",
    },
    "commitment_overdue": {
        **BASE,
        "commitment_title": "Radweg Nordstraße",
        "measurable_aim": "2 km Radweg fertiggestellt",
        "owner_organisation": "Tiefbauamt",
        "due_date": date(2027, 9, 30),
        "days_overdue": 1,
        "escalated_to": "die Bürgermeisterin",
    },
}

# Exactly what the procedure engine puts into NotificationRequest.context
# (workflows/engine.py: notification_context); None values count as undefined.
ENGINE_CONTEXT: dict[str, Any] = {
    "procedure_title": "Bebauungsplan Nord",
    "definition_id": "baugb-3-2",
    "phase_id": "publication",
    "phase_title": {"de": "Veröffentlichung", "en": "Publication"},
    "round": 1,
    "period_start": None,
    "period_end": "2027-02-12",
}
