"""A loop that drains the outbox from inside the worker process, between procedures' writes.

`deliver_outbox` is an activity, so a Temporal Schedule can call it; a worker that prefers no
extra workflow runs this pump as a background task instead. It calls the same method directly
(no activity context is needed), keeps going while a pass finds a full batch, and otherwise
waits `interval` seconds. A failing pass (database down) is logged and retried on the next
tick: rows stay in the outbox, nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from activities.storage.activities import DeliverOutboxInput, DeliverOutboxResult
from activities.storage.periodic import repeat_until_stopped

__all__ = ["pump_outbox"]

log = logging.getLogger(__name__)

Deliver = Callable[[DeliverOutboxInput], Awaitable[DeliverOutboxResult]]


async def pump_outbox(
    deliver: Deliver, *, stop: asyncio.Event, interval: float = 5.0, batch: int = 50
) -> int:
    """Run delivery passes until `stop` is set; return how many messages were delivered."""
    delivered = 0

    async def one_pass() -> bool:
        nonlocal delivered
        result = await deliver(DeliverOutboxInput(limit=batch))
        delivered += result.delivered
        return result.claimed >= batch  # a backlog: next pass at once

    await repeat_until_stopped(
        one_pass, stop=stop, interval=interval, what="outbox delivery pass", log=log
    )
    return delivered
