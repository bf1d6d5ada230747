"""Outreach gaps, the activities, and the package's public names."""

from __future__ import annotations

import pytest

import activities.selection as selection
from activities.selection.activity import (
    CompareRegistrationsInput,
    SelectionActivities,
    SelectPanelInput,
)
from activities.selection.outreach import under_represented
from tests.selection.helpers import people, quotas


def test_under_represented_groups_and_missing_counts() -> None:
    registrations = [{"milieu": "established"}] * 8 + [{"milieu": "precarious"}] * 2
    targets = {"milieu": {"established": 0.5, "precarious": 0.3, "hedonist": 0.2}}
    gaps = under_represented(registrations, targets)
    assert [(g.category, g.registered) for g in gaps] == [("hedonist", 0), ("precarious", 2)]
    hedonist = gaps[0]
    assert hedonist.actual_share == 0.0
    # (0 + x) / (10 + x) >= 0.2  ->  x >= 2.5  ->  3
    assert hedonist.missing == 3
    assert gaps[1].missing == 2  # (2 + x) / (10 + x) >= 0.3 -> x >= 1.43


def test_unstated_features_do_not_count() -> None:
    gaps = under_represented([{"age": "65+"}, {}], {"age": {"65+": 0.5, "16-24": 0.5}})
    assert [g.category for g in gaps] == ["16-24"]


async def test_activities_run_off_the_event_loop() -> None:
    acts = SelectionActivities()
    pool = people([{"g": "f"}, {"g": "m"}, {"g": "m"}, {"g": "f"}])
    data = SelectPanelInput(
        people=pool, quotas=quotas({"g": {"f": (1, 1), "m": (1, 1)}}), k=2, seed="s"
    )
    outcome = await acts.select_panel(data)
    assert len(outcome.panel) == 2
    assert set(outcome.audit.event_payload()) >= {"seed_digest", "distribution_hash", "panel_hash"}
    gaps = await acts.compare_registrations(
        CompareRegistrationsInput(registrations=[{"g": "f"}], targets={"g": {"m": 0.5}})
    )
    assert gaps.gaps[0].category == "m"


def test_all_is_complete() -> None:
    public = {name for name in dir(selection) if not name.startswith("_")}
    modules = {"activity", "draw", "fair", "feasibility", "instance", "legacy", "model"}
    modules |= {"outreach", "panels", "parse", "plots", "report", "select", "annotations"}
    assert public - modules == set(selection.__all__)


async def test_infeasible_quotas_fail_the_activity_without_retry() -> None:
    from temporalio.exceptions import ApplicationError

    pool = people([{"g": "f"}, {"g": "m"}])
    spec = quotas({"g": {"f": (2, 2), "m": (0, 1)}})
    data = SelectPanelInput(people=pool, quotas=spec, k=2, seed="s")
    with pytest.raises(ApplicationError, match="only 1 people in the pool") as info:
        await SelectionActivities().select_panel(data)
    assert info.value.non_retryable
    assert info.value.type == "InfeasibleQuotasError"
