"""The definition model: strict, closed, JSON round trip, parameter binding."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from definitions import schema


def minimal() -> dict[str, Any]:
    return {
        "id": "mini",
        "version": "1",
        "kind": "test",
        "title": {"de": "Mini", "en": "Mini"},
        "parameters": [{"name": "days", "type": "duration", "default": "P14D"}],
        "audiences": [{"id": "public", "title": {"de": "Alle", "en": "All"}, "kind": "public"}],
        "phases": [
            {
                "id": "hearing",
                "type": "hearing",
                "title": {"de": "Anhörung", "en": "Hearing"},
                "period": {"duration": "${days}"},
                "transitions": [{"when": "draft_changed", "to": "hearing", "round": "next"}],
            }
        ],
    }


def test_json_round_trip() -> None:
    definition = schema.Definition.model_validate(minimal())
    dumped = definition.model_dump(mode="json")
    assert schema.Definition.model_validate(dumped) == definition
    assert schema.Definition.model_validate_json(json.dumps(dumped)) == definition


def test_strict_and_closed() -> None:
    data = minimal()
    data["version"] = 1  # strict: no int -> str coercion
    data["colour"] = "red"  # extra="forbid"
    with pytest.raises(ValidationError) as info:
        schema.Definition.model_validate(data)
    locs = {err["loc"] for err in info.value.errors()}
    assert ("version",) in locs
    assert ("colour",) in locs


def test_bad_duration_message() -> None:
    data = minimal()
    data["phases"][0]["period"]["duration"] = "1 month"
    with pytest.raises(ValidationError, match="expected ISO-8601 duration"):
        schema.Definition.model_validate(data)


def test_bind_and_resolve_parameters() -> None:
    definition = schema.Definition.model_validate(minimal())
    bound = schema.bind_parameters(definition, {"days": "P21D"})
    period = definition.phases[0].period
    assert period is not None
    assert schema.resolve_duration(period.duration, bound).days == 21
    with pytest.raises(ValueError, match="unknown parameter 'weeks'"):
        schema.bind_parameters(definition, {"weeks": "P1W"})


def test_fall_through_order() -> None:
    definition = schema.Definition.model_validate(minimal())
    assert definition.first_phase_id() == "hearing"
    assert definition.next_in_order("hearing") == schema.END
