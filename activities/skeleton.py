"""Walking-skeleton activity: proves worker -> activity -> PostgreSQL wiring end to end."""

from __future__ import annotations

import asyncpg
from pydantic import BaseModel, Field
from temporalio import activity

__all__ = ["PingInput", "SkeletonActivities"]


class PingInput(BaseModel):
    """One ping; `ping_id` derives from the workflow id, so a retried attempt writes nothing new."""

    ping_id: str = Field(min_length=1, max_length=300)
    workflow_id: str = Field(min_length=1, max_length=255)
    message: str = Field(min_length=1, max_length=500)


class SkeletonActivities:
    """Activities of the skeleton workflow; constructed once per worker with its pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="record_ping")
    async def record_ping(self, ping: PingInput) -> str:
        """Store the ping once (the primary key makes retries harmless); return its row id."""
        async with self._pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO skeleton_pings (ping_id, workflow_id, message) VALUES ($1, $2, $3)"
                " ON CONFLICT (ping_id) DO NOTHING",
                ping.ping_id,
                ping.workflow_id,
                ping.message,
            )
        return ping.ping_id
