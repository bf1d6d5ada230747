"""`civicflow_procedures_by_phase`: running procedures per definition kind and phase.

The numbers come from Temporal visibility, the search attributes every procedure keeps current
(`ProcedureKind`, `Phase`; never personal data), so they are right whichever worker runs a
procedure and survive worker restarts. Visibility cannot `GROUP BY` custom attributes, so the
loop asks one count per kind and one per (kind, phase) the catalogue defines, plus the totals:
procedures in a phase this worker's catalogue does not know (an older definition version)
appear as phase `other`, those of an unknown kind as kind `other`. Only procedures on this
worker's task queue count, so with a task queue per municipality each deployment reports its
own. Every replica exports the same figures: dashboards take `max by (kind, phase)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping

import structlog
from temporalio.client import Client
from temporalio.service import RPCError

from definitions import loader
from worker.telemetry import Metrics

__all__ = ["OTHER", "catalogue_phases", "count_by_phase", "run_phase_gauge", "visibility_query"]

log = structlog.get_logger("civicflow.phase_gauge")

OTHER = "other"
NO_PHASE = "none"  # the `Phase` value of a procedure between phases (workflows.engine)
_LITERAL = re.compile(r"^[A-Za-z0-9_.:/@-]+$")


def catalogue_phases() -> dict[str, tuple[str, ...]]:
    """Definition kind -> every phase id its catalogue definitions have (and `none`)."""
    found: dict[str, set[str]] = {}
    for loaded in loader.list_definitions():
        definition = loaded.definition
        found.setdefault(definition.kind, {NO_PHASE}).update(p.id for p in definition.phases)
    return {kind: tuple(sorted(ids)) for kind, ids in sorted(found.items())}


def _literal(value: str, what: str) -> str:
    """A quoted visibility-query string; refuses anything that could change the query."""
    if not _LITERAL.fullmatch(value):
        msg = f"{what} {value!r} cannot be used in a visibility query: expected [A-Za-z0-9_.:/@-]"
        raise ValueError(msg)
    return f"'{value}'"


def visibility_query(task_queue: str, kind: str | None = None, phase: str | None = None) -> str:
    """The query counting running procedures on `task_queue` (of one kind, in one phase)."""
    parts = [
        "WorkflowType = 'Procedure'",
        "ExecutionStatus = 'Running'",
        f"TaskQueue = {_literal(task_queue, 'task queue')}",
    ]
    if kind is not None:
        parts.append(f"ProcedureKind = {_literal(kind, 'kind')}")
    if phase is not None:
        parts.append(f"Phase = {_literal(phase, 'phase')}")
    return " AND ".join(parts)


async def count_by_phase(
    client: Client, task_queue: str, phases: Mapping[str, tuple[str, ...]]
) -> dict[tuple[str, str], int]:
    """(kind, phase) -> running procedures, with the `other` buckets described above."""

    async def count(kind: str | None = None, phase: str | None = None) -> int:
        return (await client.count_workflows(visibility_query(task_queue, kind, phase))).count

    pairs = [(kind, phase) for kind, ids in phases.items() for phase in ids]
    total, *rest = await asyncio.gather(
        count(),
        *(count(kind) for kind in phases),
        *(count(kind, phase) for kind, phase in pairs),
    )
    per_kind = dict(zip(phases, rest[: len(phases)], strict=True))
    counts = dict(zip(pairs, rest[len(phases) :], strict=True))
    for kind, kind_total in per_kind.items():
        known = sum(n for (k, _), n in counts.items() if k == kind)
        counts[(kind, OTHER)] = max(kind_total - known, 0)
    counts[(OTHER, OTHER)] = max(total - sum(per_kind.values()), 0)
    return counts


async def run_phase_gauge(
    client: Client,
    metrics: Metrics,
    stop: asyncio.Event,
    *,
    task_queue: str,
    interval: float,
    phases: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Count every `interval` seconds until `stop` is set; a failed count keeps the last
    figures and is logged (visibility being briefly unavailable must not stop the worker)."""
    _literal(task_queue, "task queue")  # fail at start, not at every count
    if phases is not None:
        known = dict(phases)
    else:
        try:
            known = catalogue_phases()
        except loader.DefinitionError as err:
            # the worker refuses such definitions at load_definition anyway; count the rest
            log.error("catalogue unreadable: procedures counted as kind 'other'", error=str(err))
            known = {}
    while not stop.is_set():
        try:
            counts = await count_by_phase(client, task_queue, known)
        except RPCError as err:
            log.warning("counting procedures by phase failed", error=str(err))
        else:
            for (kind, phase), value in counts.items():
                metrics.procedures_by_phase.labels(kind=kind, phase=phase).set(value)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
