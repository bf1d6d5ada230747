"""The bare-Temporal baseline: the same shapes as civicflow's, without civicflow.

Each workflow is the minimum that does what the matching civicflow scenario does, written the
way a Temporal sample would write it, so the ratio civicflow / bare is what civicflow adds:

- `BareStart` runs one activity and completes (scenario 1: start latency and throughput).
- `BareIntake` takes updates with a validator, single (`submit`) and batched (`submit_many`),
  keeps only a count and the keys of this run, and continues as new when the server suggests
  it or before Temporal's 2,000 updates per run (scenarios 2 and 3).
- `BareSleeper` runs one activity, sleeps on one durable timer, runs it again (scenario 4).
- `BareDeadline` does the same but sleeps until a given instant, so many of them wake at the
  same moment (scenario 4, deadlines firing together).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import activity, workflow

# Models live in their own module, passed through the sandbox: a module the sandbox imports
# is executed again for every workflow instance, and building pydantic classes each time
# would weigh on the baseline (civicflow passes its models through the same way).
with workflow.unsafe.imports_passed_through():
    from bench.baseline_models import BareBatch, BareIntakeState, BareItem, BareReceipt

__all__ = [
    "BARE_WORKFLOWS",
    "BareActivities",
    "BareBatch",
    "BareDeadline",
    "BareIntake",
    "BareIntakeState",
    "BareItem",
    "BareReceipt",
    "BareSleeper",
    "BareStart",
]

MAX_UPDATES_PER_RUN = 1800  # Temporal refuses more than 2,000 updates per run


class BareActivities:
    """One activity that does nothing but report back; counts calls for the harness."""

    def __init__(self) -> None:
        self.calls = 0
        self.done: asyncio.Event = asyncio.Event()
        self.expect = 0

    @activity.defn(name="bare_touch")
    async def touch(self, name: str) -> str:
        self.calls += 1
        if self.expect and self.calls >= self.expect:
            self.done.set()
        return name

    def reset(self, expect: int) -> None:
        self.calls = 0
        self.expect = expect
        self.done = asyncio.Event()


@workflow.defn(name="BareStart")
class BareStart:
    @workflow.run
    async def run(self, name: str) -> str:
        result: str = await workflow.execute_activity(
            "bare_touch", name, start_to_close_timeout=timedelta(seconds=60), result_type=str
        )
        return result


@workflow.defn(name="BareIntake")
class BareIntake:
    @workflow.init
    def __init__(self, carried: BareIntakeState | None = None) -> None:
        self.state = carried or BareIntakeState()
        self.keys: set[str] = set()
        self.updates = 0
        self.done = False

    @workflow.run
    async def run(self, carried: BareIntakeState | None = None) -> BareIntakeState:
        await workflow.wait_condition(
            lambda: (
                self.done
                or self.updates >= MAX_UPDATES_PER_RUN
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self.done:
            return self.state
        self.state.runs += 1
        workflow.continue_as_new(self.state)

    def _take(self, item: BareItem) -> BareReceipt:
        self.keys.add(item.key)
        self.state.received += 1
        return BareReceipt(key=item.key, sequence=self.state.received)

    @workflow.update
    def submit(self, item: BareItem) -> BareReceipt:
        self.updates += 1
        return self._take(item)

    @submit.validator
    def validate_submit(self, item: BareItem) -> None:
        if item.key in self.keys:
            msg = f"key {item.key!r} already received"
            raise ValueError(msg)

    @workflow.update
    def submit_many(self, batch: BareBatch) -> list[BareReceipt]:
        self.updates += 1
        return [self._take(item) for item in batch.items]

    @submit_many.validator
    def validate_submit_many(self, batch: BareBatch) -> None:
        for item in batch.items:
            self.validate_submit(item)

    @workflow.query
    def received(self) -> BareIntakeState:
        return self.state

    @workflow.signal
    def finish(self) -> None:
        self.done = True


@workflow.defn(name="BareSleeper")
class BareSleeper:
    @workflow.run
    async def run(self, seconds: float) -> str:
        # one activity on entering the "phase" (civicflow records phase.changed), then idle
        await self._touch()
        await workflow.sleep(timedelta(seconds=seconds))
        return await self._touch()

    async def _touch(self) -> str:
        result: str = await workflow.execute_activity(
            "bare_touch",
            workflow.info().workflow_id,
            start_to_close_timeout=timedelta(seconds=60),
            result_type=str,
        )
        return result


@workflow.defn(name="BareDeadline")
class BareDeadline:
    @workflow.run
    async def run(self, until: datetime) -> str:
        # one activity on entering the "phase", a timer to the shared deadline, one on leaving
        await _touch()
        await workflow.sleep(max(until - workflow.now(), timedelta(0)))
        return await _touch()


async def _touch() -> str:
    result: str = await workflow.execute_activity(
        "bare_touch",
        workflow.info().workflow_id,
        start_to_close_timeout=timedelta(seconds=60),
        result_type=str,
    )
    return result


BARE_WORKFLOWS: tuple[type, ...] = (BareStart, BareIntake, BareSleeper, BareDeadline)
