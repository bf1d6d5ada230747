"""Workflows and activities the worker tests run; kept apart so the sandbox imports little."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import structlog


@activity.defn(name="telemetry_probe")
async def telemetry_probe(fail: bool) -> dict[str, Any]:
    """Return what is bound in structlog's contextvars while the activity runs."""
    if fail:
        raise ApplicationError("probe failure", non_retryable=True)
    return dict(structlog.contextvars.get_contextvars())


@workflow.defn(name="TelemetryProbe")
class TelemetryProbe:
    @workflow.run
    async def run(self, fail: bool) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_activity(
            telemetry_probe,
            fail,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return result


class DrainProbe:
    """An activity that only finishes after its worker was asked to shut down."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    @activity.defn(name="finish_after_shutdown")
    async def finish_after_shutdown(self) -> str:
        self.started.set()
        await activity.wait_for_worker_shutdown()
        # Still some work after the notice, as a real activity would have.
        await asyncio.sleep(0.2)
        return "finished after shutdown was requested"


@workflow.defn(name="DrainProbe")
class DrainProbeWorkflow:
    @workflow.run
    async def run(self) -> str:
        result: str = await workflow.execute_activity_method(
            DrainProbe.finish_after_shutdown,
            start_to_close_timeout=timedelta(seconds=120),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return result
