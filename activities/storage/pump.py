"""A loop that drains the outbox from inside the worker process, between procedures' writes.

`deliver_outbox` is an activity, so a Temporal Schedule can call it; a worker that prefers no
extra workflow runs this pump as a background task instead. It calls the same method directly
(no activity context is needed), keeps going while a pass finds a full batch, and otherwise
waits `interval` seconds. A failing pass (database down) is logged and retried on the next
tick: rows stay in the outbox, nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from activities.storage.activities import DeliverOutboxInput, DeliverOutboxResult

__all__ = ["pump_outbox"]

log = logging.getLogger(__name__)

Deliver = Callable[[DeliverOutboxInput], Awaitable[DeliverOutboxResult]]


async def pump_outbox(
    deliver: Deliver, *, stop: asyncio.Event, interval: float = 5.0, batch: int = 50
) -> int:
    """Run delivery passes until `stop` is set; return how many messages were delivered."""
    delivered = 0
    while not stop.is_set():
        try:
            result = await deliver(DeliverOutboxInput(limit=batch))
        except Exception as err:  # any failure (database down): log it, retry next tick
            log.warning("outbox delivery pass failed: %s: %s", type(err).__name__, err)
            result = None
        if result is not None:
            delivered += result.delivered
            if result.claimed >= batch:
                continue  # a backlog: next pass at once
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    return delivered
