"""What a civicflow worker runs: the single list of workflows and of activity classes.

Activities are methods of classes whose constructors take what they need (the asyncpg pool,
the metrics, the settings). Each entry of `ACTIVITY_FACTORIES` builds one such instance from
`ActivityDeps`, so adding a class is one line here, and the worker registers every method of
it that carries `@activity.defn`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from activities.definitions_io import load_definition
from activities.notify.templates import MailRenderer
from activities.notify.webhook import WebhookSender
from activities.selection.activity import SelectionActivities
from activities.skeleton import SkeletonActivities
from activities.storage.activities import StorageActivities
from activities.storage.pump import pump_outbox
from activities.storage.settings import StorageSettings
from activities.storage.summarize import run_summarizer
from worker.config import Settings
from worker.outbox_secrets import mail_sender, webhook_secret_resolver
from worker.telemetry import Metrics
from workflows.procedure import ProcedureWorkflow
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
    closers: list[Callable[[], Awaitable[object]]] = field(default_factory=list)
    """Called once the worker has stopped (e.g. closing an HTTP client a factory opened)."""
    background: list[Callable[[asyncio.Event], Awaitable[object]]] = field(default_factory=list)
    """Loops that run beside the worker until the stop event is set (e.g. the outbox pump)."""


class _Functions:
    """Module-level activity functions, presented like an activity class."""

    load_definition = staticmethod(load_definition)


def _storage_activities(deps: ActivityDeps) -> StorageActivities:
    """Storage with its outbox senders; the outbox pump and the statement index's summariser
    run beside the worker."""
    webhooks = WebhookSender()
    deps.closers.append(webhooks.aclose)
    settings = StorageSettings()
    storage = StorageActivities(
        deps.pool,
        deps.metrics,
        settings,
        mail_sender=mail_sender(),  # secrets from the environment or `<NAME>_FILE`
        webhook_sender=webhooks,
        renderer=MailRenderer(),
        secrets=webhook_secret_resolver(settings.webhook_secret_env_prefix),
    )
    deps.background.append(lambda stop: pump_outbox(storage.deliver_outbox, stop=stop))
    if settings.index_summary_seconds > 0:
        interval = settings.index_summary_seconds
        deps.background.append(lambda stop: run_summarizer(deps.pool, stop=stop, interval=interval))
    return storage


WORKFLOWS: Sequence[type] = (ProcedureWorkflow, SkeletonWorkflow)
"""Every workflow class the worker registers."""

ACTIVITY_FACTORIES: Sequence[Callable[[ActivityDeps], object]] = (
    lambda deps: SkeletonActivities(deps.pool),
    lambda deps: _Functions(),
    _storage_activities,
    lambda deps: SelectionActivities(pool=deps.pool),
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
