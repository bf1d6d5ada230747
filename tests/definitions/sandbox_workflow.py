"""A workflow that uses the procedure language inside Temporal's sandbox, not passed through.

Kept apart from the test module because the sandbox re-imports the workflow's module.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from definitions import calendar, schema


@workflow.defn
class DeadlineProbe:
    """Validates a definition snapshot and computes its hearing deadline deterministically."""

    @workflow.run
    async def run(self, definition_json: dict[str, Any]) -> list[str]:
        definition = schema.Definition.model_validate(definition_json)
        bound = schema.bind_parameters(definition, {})
        hearing = definition.phase("hearing")
        assert hearing.period is not None
        duration = schema.resolve_duration(hearing.period.duration, bound)
        start = calendar.berlin_date(workflow.now())
        last_day = calendar.period_end(start, duration, "BY", start_counts=True)
        instant = calendar.deadline_instant(last_day)
        return [start.isoformat(), last_day.isoformat(), instant.isoformat()]
