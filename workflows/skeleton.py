"""Walking-skeleton workflow `Skeleton`: one activity writes one row, the run returns its id.

Start it against `civicflow dev`:
    temporal workflow start --task-queue civicflow --type Skeleton --workflow-id hello \
        --input '{"message": "hello"}'
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field, ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.skeleton import PingInput, SkeletonActivities

__all__ = ["SkeletonInput", "SkeletonWorkflow"]


class SkeletonInput(BaseModel):
    """Input of `Skeleton`: a short message stored with the ping."""

    message: str = Field(min_length=1, max_length=500)


# Invalid input (e.g. an empty message) fails the run at once with the pydantic error, instead
# of failing the first workflow task again and again.
@workflow.defn(name="Skeleton", failure_exception_types=[ValidationError])
class SkeletonWorkflow:
    """Runs `record_ping` once and returns the stored row's id."""

    @workflow.run
    async def run(self, request: SkeletonInput) -> str:
        info = workflow.info()
        ping = PingInput(
            ping_id=f"{info.workflow_id}/ping",
            workflow_id=info.workflow_id,
            message=request.message,
        )
        row_id: str = await workflow.execute_activity_method(
            SkeletonActivities.record_ping,
            ping,
            start_to_close_timeout=timedelta(seconds=30),
        )
        workflow.logger.info("skeleton ping recorded")
        return row_id
