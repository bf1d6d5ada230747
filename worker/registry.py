"""What a civicflow worker runs: the single list of workflows and of activity classes.

Activities are methods of classes whose constructors take what they need (the asyncpg pool,
the metrics, the settings). Each entry of `ACTIVITY_FACTORIES` builds one such instance from
`ActivityDeps`, so adding a class is one line here, and the worker registers every method of
it that carries `@activity.defn`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from activities.skeleton import SkeletonActivities
from worker.config import Settings
from worker.telemetry import Metrics
from workflows.skeleton import SkeletonWorkflow

__all__ = [
    "ACTIVITY_FACTORIES",
    "WORKFLOWS",
    "ActivityDeps",
    "activity_methods",
    "build_activities",
]


@dataclass(frozen=True)
class ActivityDeps:
    """Everything an activity class may ask for in its constructor."""

    pool: asyncpg.Pool
    metrics: Metrics
    settings: Settings


WORKFLOWS: Sequence[type] = (SkeletonWorkflow,)
"""Every workflow class the worker registers."""

ACTIVITY_FACTORIES: Sequence[Callable[[ActivityDeps], object]] = (
    lambda deps: SkeletonActivities(deps.pool),
)
"""One line per activity class: how to build it from the worker's dependencies."""


def activity_methods(instance: object) -> list[Callable[..., Any]]:
    """The bound methods of `instance` that are Temporal activities, in name order."""
    found: list[Callable[..., Any]] = []
    for name in sorted(dir(type(instance))):
        if name.startswith("__"):
            continue
        member = getattr(type(instance), name, None)
        if callable(member) and hasattr(member, "__temporal_activity_definition"):
            found.append(getattr(instance, name))
    return found


def build_activities(
    deps: ActivityDeps,
    factories: Sequence[Callable[[ActivityDeps], object]] = ACTIVITY_FACTORIES,
) -> list[Callable[..., Any]]:
    """Instantiate every activity class once and collect its activity methods."""
    callables: list[Callable[..., Any]] = []
    for factory in factories:
        callables.extend(activity_methods(factory(deps)))
    return callables
