"""Run an ASGI app with uvicorn until a stop event: the public site and the codec server.

Both bind their socket here first, so a taken port is a one-line `PortInUseError` instead of
uvicorn's log line and `SystemExit`; uvicorn installs no signal handlers (the caller owns them
and sets `stop`); shutdown is graceful.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any, Literal

import uvicorn

from worker.prometheus import PortInUseError

__all__ = ["bind", "serve_app"]


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


async def serve_app(
    app: Any,
    sock: socket.socket,
    stop: asyncio.Event,
    *,
    lifespan: Literal["on", "off"],
    grace_seconds: float,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve `app` on the bound `sock` until `stop` is set; `ready(url)` once it accepts
    requests. The socket is closed at the end."""
    config = uvicorn.Config(
        app,
        log_config=None,  # civicflow's logging configuration stays in charge
        access_log=False,  # query strings are not logged (they may hold search text)
        lifespan=lifespan,
        timeout_graceful_shutdown=int(grace_seconds) or None,
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
