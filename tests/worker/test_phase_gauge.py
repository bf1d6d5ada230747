"""`civicflow_procedures_by_phase` on /metrics, counted from the dev server's visibility."""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.helpers import assert_eq_eventually, free_port
from worker.config import load_settings
from worker.phase_gauge import OTHER, catalogue_phases, count_by_phase, visibility_query
from worker.run import run_until_stopped, worker_services
from worker.telemetry import Metrics
from workflows import messages as m
from workflows.procedure import ProcedureWorkflow

pytestmark = pytest.mark.integration

GAUGE = re.compile(r'^civicflow_procedures_by_phase\{kind="([^"]+)",phase="([^"]+)"\} (\S+)$')


def test_query_names_queue_kind_and_phase() -> None:
    assert visibility_query("civicflow", "bauleitplanung", "hearing") == (
        "WorkflowType = 'Procedure' AND ExecutionStatus = 'Running' AND TaskQueue = 'civicflow'"
        " AND ProcedureKind = 'bauleitplanung' AND Phase = 'hearing'"
    )
    assert visibility_query("tq") == (
        "WorkflowType = 'Procedure' AND ExecutionStatus = 'Running' AND TaskQueue = 'tq'"
    )


def test_query_refuses_values_that_would_change_it() -> None:
    with pytest.raises(ValueError, match="task queue \"x' OR 'a'='a\" cannot be used"):
        visibility_query("x' OR 'a'='a")


def test_catalogue_phases_cover_every_definition() -> None:
    phases = catalogue_phases()
    assert {"hearing", "announcement", "weighing", "none"} <= set(phases["bauleitplanung"])
    assert all("none" in ids for ids in phases.values())


def _start(reference: str, *, hearing_now: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "definition_id": "baugb-3-2",
        "reference": reference,
        "title": "Bebauungsplan Mühlweg-Süd",
        "municipality": "08221000",
        "land": "BW",
    }
    if hearing_now:  # announced 10 days ago: the one-week lead is over, the hearing runs
        data["announcement_date"] = (datetime.now(UTC).date() - timedelta(days=10)).isoformat()
    return data


def _scrape(url: str) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  (our own endpoint)
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        match = GAUGE.match(line)
        if match:
            found[(match[1], match[2])] = float(match[3])
    return found


async def test_gauge_counts_running_procedures_by_kind_and_phase(
    dev_env: WorkflowEnvironment, database_url: str, db_schema: str
) -> None:
    queue = f"gauge-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        temporal_address=dev_env.client.service_client.config.target_host,
        task_queue=queue,
        database_url=database_url,
        database_schema=db_schema,
        metrics_host="127.0.0.1",
        metrics_port=free_port(),
        phase_gauge_seconds=0.3,
    )
    async with worker_services(settings) as services:
        assert services.metrics_url is not None
        assert len(services.background) == 3  # the outbox pump, the index summariser, the gauge
        stop = asyncio.Event()
        running = asyncio.create_task(run_until_stopped(services.worker, stop, services.background))
        handles = []
        try:
            for i, hearing_now in enumerate((True, True, False)):
                handles.append(
                    await dev_env.client.start_workflow(
                        ProcedureWorkflow.run,
                        _start(f"gauge-{queue}-{i}", hearing_now=hearing_now),
                        id=m.procedure_workflow_id("08221000", f"gauge-{queue}-{i}"),
                        task_queue=queue,
                    )
                )
            url = services.metrics_url

            async def figures() -> tuple[float, float, float]:
                found = await asyncio.to_thread(_scrape, url)
                return (
                    found.get(("bauleitplanung", "hearing"), -1.0),
                    found.get(("bauleitplanung", "announcement"), -1.0),
                    found.get((OTHER, OTHER), -1.0),
                )

            await assert_eq_eventually((2.0, 1.0, 0.0), figures, timeout=timedelta(seconds=30))
            scraped = await asyncio.to_thread(_scrape, url)
            # every known (kind, phase) is exported, zero where none runs
            assert scraped[("buergerrat", "sessions")] == 0.0
            assert all(value >= 0 for value in scraped.values())

            # an ended procedure no longer counts
            await handles[0].terminate("test over")
            await assert_eq_eventually((1.0, 1.0, 0.0), figures, timeout=timedelta(seconds=30))
        finally:
            for handle in handles:
                with contextlib.suppress(RPCError):  # the first one has ended already
                    await handle.terminate("test over")
            stop.set()
            await running


async def test_unknown_kinds_and_phases_are_counted_as_other(
    dev_env: WorkflowEnvironment, database_url: str, db_schema: str
) -> None:
    """A catalogue that lacks a procedure's phase (an older version) still counts it."""
    queue = f"gauge-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        temporal_address=dev_env.client.service_client.config.target_host,
        task_queue=queue,
        database_url=database_url,
        database_schema=db_schema,
        metrics_port=0,
        phase_gauge_seconds=0,
    )
    async with worker_services(settings) as services:
        assert len(services.background) == 2  # pump and summariser only: interval 0, no gauge
        stop = asyncio.Event()
        running = asyncio.create_task(run_until_stopped(services.worker, stop, services.background))
        ref = f"gauge-{queue}-other"
        handle = await dev_env.client.start_workflow(
            ProcedureWorkflow.run,
            _start(ref, hearing_now=True),
            id=m.procedure_workflow_id("08221000", ref),
            task_queue=queue,
        )
        try:
            partial = {"bauleitplanung": ("announcement", "none")}

            async def counted() -> dict[tuple[str, str], int]:
                return await count_by_phase(dev_env.client, queue, partial)

            await assert_eq_eventually(
                {
                    ("bauleitplanung", "announcement"): 0,
                    ("bauleitplanung", "none"): 0,
                    ("bauleitplanung", OTHER): 1,
                    (OTHER, OTHER): 0,
                },
                counted,
                timeout=timedelta(seconds=30),
            )
            unknown = await count_by_phase(dev_env.client, queue, {})
            assert unknown == {(OTHER, OTHER): 1}
        finally:
            await handle.terminate("test over")
            stop.set()
            await running


def test_metric_is_registered_with_its_labels() -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.procedures_by_phase.labels(kind="bauleitplanung", phase="hearing").set(3)
    value = metrics.registry.get_sample_value(
        "civicflow_procedures_by_phase", {"kind": "bauleitplanung", "phase": "hearing"}
    )
    assert value == 3
