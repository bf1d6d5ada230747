"""The loop of the worker's storage chores (outbox pump, index summaries): a pass, then a wait.

A failing pass (database down) is logged and tried again on the next tick, never the end of
the loop: what it would have done stays to be done (rows stay in the outbox, ranges stay
unsummarised and are read whole).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

__all__ = ["repeat_until_stopped"]


async def repeat_until_stopped(
    one_pass: Callable[[], Awaitable[bool]],
    *,
    stop: asyncio.Event,
    interval: float,
    what: str,
    log: logging.Logger,
) -> None:
    """Run `one_pass` until `stop` is set: again at once when it returns True (a backlog),
    else after `interval` seconds or as soon as `stop` is set."""
    while not stop.is_set():
        try:
            again = await one_pass()
        except Exception as err:  # any failure (database down): log it, retry next tick
            log.warning("%s failed: %s: %s", what, type(err).__name__, err)
            again = False
        if again:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
