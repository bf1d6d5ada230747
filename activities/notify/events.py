"""The catalogue of CloudEvents civicflow sends to integrators, and a builder for them.

Every event is a CloudEvents 1.0 envelope (structured JSON mode when sent by webhook). Its `id`
is the outbox message id, stable across retries, so a receiver deduplicates on (`source`, `id`).
`data` must not carry personal data: integrators get ids and public facts, never names or
addresses of participants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "COMMITMENT_DUE",
    "COMMITMENT_OVERDUE",
    "DEADLINE_EXTENDED",
    "DECISION_RECORDED",
    "DEFAULT_SOURCE",
    "EVENT_TYPES",
    "EVENT_TYPE_PREFIX",
    "OUTREACH_UNDER_REPRESENTED",
    "OUTREACH_WAVE_DRAWN",
    "OUTREACH_WAVE_FAILED",
    "PANEL_SELECTED",
    "PHASE_CHANGED",
    "PROCEDURE_CANCELLED",
    "PROCEDURE_COMPLETED",
    "PROCEDURE_STARTED",
    "STATEMENT_RECEIVED",
    "CloudEvent",
    "build_event",
]

EVENT_TYPE_PREFIX: Final = "de.civicflow."
PROCEDURE_STARTED: Final = "de.civicflow.procedure.started"
PHASE_CHANGED: Final = "de.civicflow.phase.changed"
DEADLINE_EXTENDED: Final = "de.civicflow.deadline.extended"
STATEMENT_RECEIVED: Final = "de.civicflow.statement.received"
DECISION_RECORDED: Final = "de.civicflow.decision.recorded"
COMMITMENT_DUE: Final = "de.civicflow.commitment.due"
COMMITMENT_OVERDUE: Final = "de.civicflow.commitment.overdue"
PROCEDURE_COMPLETED: Final = "de.civicflow.procedure.completed"
PROCEDURE_CANCELLED: Final = "de.civicflow.procedure.cancelled"
OUTREACH_UNDER_REPRESENTED: Final = "de.civicflow.outreach.under_represented"
OUTREACH_WAVE_DRAWN: Final = "de.civicflow.outreach.wave_drawn"
OUTREACH_WAVE_FAILED: Final = "de.civicflow.outreach.wave_failed"
PANEL_SELECTED: Final = "de.civicflow.panel.selected"

EVENT_TYPES: Final[frozenset[str]] = frozenset(
    {
        PROCEDURE_STARTED,
        PHASE_CHANGED,
        DEADLINE_EXTENDED,
        STATEMENT_RECEIVED,
        DECISION_RECORDED,
        COMMITMENT_DUE,
        COMMITMENT_OVERDUE,
        PROCEDURE_COMPLETED,
        PROCEDURE_CANCELLED,
        OUTREACH_UNDER_REPRESENTED,
        OUTREACH_WAVE_DRAWN,
        OUTREACH_WAVE_FAILED,
        PANEL_SELECTED,
    }
)

DEFAULT_SOURCE: Final = "urn:civicflow"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope with a JSON `data` object.

    `subject` carries the procedure (workflow) id so receivers can filter without parsing data.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(default=DEFAULT_SOURCE, min_length=1)
    type: str = Field(min_length=1)
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    subject: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            msg = "time: expected a timezone-aware datetime (CloudEvents time is RFC 3339)"
            raise ValueError(msg)
        return value.astimezone(UTC)

    def to_json_bytes(self) -> bytes:
        """The structured-mode body: compact UTF-8 JSON, `subject` left out when unset."""
        return self.model_dump_json(exclude_none=True).encode()


def build_event(
    event_type: str,
    *,
    message_id: str,
    procedure_id: str,
    time: datetime,
    data: dict[str, Any] | None = None,
    source: str = DEFAULT_SOURCE,
) -> CloudEvent:
    """Build an event of a catalogue type; unknown types are refused so typos surface early.

    `message_id` is the outbox message id (stable across retries); `time` is when the
    procedure event happened (from the workflow, not the sender's clock).
    """
    if event_type not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        msg = f"event_type: unknown CloudEvents type {event_type!r}; expected one of {known}"
        raise ValueError(msg)
    return CloudEvent(
        id=message_id,
        source=source,
        type=event_type,
        time=time,
        subject=procedure_id,
        data=dict(data or {}),
    )
