"""Run the public site with uvicorn until a stop event: `serve(settings, stop)`.

Used by `civicflow web` and meant for the dev stack too (it owns the signal handling and
just sets `stop`). Start-up problems fail fast with one line: a database that cannot be
reached or lacks the read model (`civicflow migrate` not run), a port that is taken. The
socket is bound here, before uvicorn starts, so a taken port is a clear `PortInUseError`
instead of uvicorn's log line and `SystemExit`. Shutdown is graceful: stop accepting, let
running requests finish (up to `shutdown_grace_seconds`), close the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator

import asyncpg
import uvicorn

from activities.storage.pool import DatabaseUnavailableError, create_pool
from worker.prometheus import PortInUseError
from worker.web.app import create_app
from worker.web.settings import WebSettings

__all__ = ["WEB_STARTUP_ERRORS", "bind", "serve"]

WEB_STARTUP_ERRORS: tuple[type[Exception], ...] = (DatabaseUnavailableError, PortInUseError)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the caller's stop event decides."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port; PortInUseError names the address."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        msg = f"cannot listen on {host}:{port}: {err}"
        raise PortInUseError(msg) from err
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        sock.close()
        msg = f"port {port} on {host} is already in use or not bindable: {err.strerror or err}"
        raise PortInUseError(msg) from err
    sock.set_inheritable(True)
    return sock


async def _check_read_model(pool: asyncpg.Pool, settings: WebSettings) -> None:
    found = await pool.fetchval("SELECT to_regclass('public_procedure_status') IS NOT NULL")
    if not found:
        msg = (
            f"database schema {settings.database_schema!r} has no public read model "
            "(migration 0005): run `civicflow migrate` first"
        )
        raise DatabaseUnavailableError(msg)


async def serve(
    settings: WebSettings,
    stop: asyncio.Event,
    *,
    pool: asyncpg.Pool | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the site until `stop` is set; `ready(url)` is called once it accepts requests.

    With `pool=None` a pool is opened from the settings and closed at the end; a given pool
    stays the caller's.
    """
    own_pool = pool is None
    if pool is None:
        pool = await create_pool(
            settings.database_url,
            schema=settings.database_schema,
            min_size=1,
            max_size=settings.database_pool_size,
            create_schema=False,
        )
    try:
        await _check_read_model(pool, settings)
        sock = bind(settings.host, settings.port)
        app = create_app(settings, pool=pool)
        config = uvicorn.Config(
            app,
            log_config=None,  # civicflow's logging configuration stays in charge
            access_log=False,  # query strings are not logged (they may hold search text)
            lifespan="on",
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) or None,
            server_header=False,
        )
        server = _Server(config)
        host, port = sock.getsockname()[:2]
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}"

        async def watch() -> None:
            # uvicorn offers only a `started` flag, no event to await.
            while not server.started and not server.should_exit:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            if server.started and ready is not None:
                ready(url)
            await stop.wait()
            server.should_exit = True

        watcher = asyncio.create_task(watch())
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            sock.close()
    finally:
        if own_pool:
            await pool.close()
