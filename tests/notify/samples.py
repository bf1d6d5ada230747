"""Test contexts: the shipped examples, and the engine's real context."""

from __future__ import annotations

from typing import Any

from activities.notify.samples import PROCEDURE_URL, SAMPLE_CONTEXTS

__all__ = ["BASE", "ENGINE_CONTEXT", "PROCEDURE_URL", "SAMPLES"]

SAMPLES: dict[str, dict[str, Any]] = {key: dict(value) for key, value in SAMPLE_CONTEXTS.items()}
BASE: dict[str, Any] = {
    key: SAMPLES["invitation"][key]
    for key in ("procedure_title", "municipality_name", "procedure_url")
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
