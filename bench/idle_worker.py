"""A worker in a process of its own, for scenario 4 (many idle procedures).

Worker memory is measured as the RSS of a process that runs nothing but the worker, so the
harness's client, the other worker and earlier scenarios do not blur it. The civicflow side
is built exactly as `civicflow worker` builds it; the bare side runs `bench.baseline`.

Protocol on stdin/stdout: prints `ready` once polling; each `count` line read is answered with
the number of bare activity calls so far; end of input stops the worker.

    python -m bench.idle_worker civicflow|bare ADDRESS TASK_QUEUE DATABASE_URL SCHEMA
"""

from __future__ import annotations

import asyncio
import logging
import sys

import structlog
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.baseline import BARE_WORKFLOWS, BareActivities
from worker.config import Settings
from worker.run import run_until_stopped, worker_services


async def _commands(bare: BareActivities | None) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print("ready", flush=True)
    while line := await reader.readline():
        if line.strip() == b"count":
            print(bare.calls if bare else 0, flush=True)


async def main(kind: str, address: str, task_queue: str, url: str, schema: str) -> None:
    # one warning per procedure whose audience is empty would flood the harness's terminal
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    logging.getLogger().setLevel(logging.ERROR)
    if kind == "civicflow":
        settings = Settings(
            temporal_address=address,
            database_url=url,
            database_schema=schema,
            metrics_port=0,
            task_queue=task_queue,
            shutdown_grace_seconds=2,
        )
        async with worker_services(settings) as services:
            stop = asyncio.Event()
            running = asyncio.create_task(
                run_until_stopped(services.worker, stop, services.background)
            )
            await _commands(None)
            stop.set()
            await running
        return
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    bare = BareActivities()
    async with Worker(
        client, task_queue=task_queue, workflows=list(BARE_WORKFLOWS), activities=[bare.touch]
    ):
        await _commands(bare)


if __name__ == "__main__":
    kind, address, queue, url, schema = sys.argv[1:6]
    asyncio.run(main(kind, address, queue, url, schema))
