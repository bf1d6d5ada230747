"""`civicflow codec-server`: let the Temporal Web UI show encrypted payloads in clear.

Keys come from the worker's environment (`CIVICFLOW_PAYLOAD_KEYS` or a secret file named by
`CIVICFLOW_PAYLOAD_KEYS_FILE`, and `CIVICFLOW_PAYLOAD_KEY_ID`), never from a flag (flags end up
in shell history and process lists). Runs until SIGINT/SIGTERM and exits 0; a bad setting
exits 2, a taken port 1, each with one line naming the problem.
"""

from __future__ import annotations

import asyncio

import typer

from worker.config import ConfigError, load_settings
from worker.prometheus import PortInUseError
from worker.run import install_stop_handlers
from worker.telemetry import configure_logging

__all__ = ["codec_server"]


def _fail(err: Exception | str, code: int) -> typer.Exit:
    typer.echo(f"civicflow codec-server: {' '.join(str(err).split())}", err=True)
    return typer.Exit(code)


def codec_server(
    host: str | None = typer.Option(
        None, help="address to listen on (CIVICFLOW_CODEC_SERVER_HOST, default 127.0.0.1)"
    ),
    port: int | None = typer.Option(
        None, help="port, 0 for any free one (CIVICFLOW_CODEC_SERVER_PORT, default 8081)"
    ),
    cors_origins: str | None = typer.Option(
        None,
        help="comma list of Web UI origins (CIVICFLOW_CODEC_SERVER_CORS_ORIGINS, "
        "default http://127.0.0.1:8233,http://localhost:8233)",
    ),
) -> None:
    """Serve Temporal's codec protocol (POST /encode, /decode) with civicflow's payload keys.

    Point the Web UI at it: `temporal server start-dev --ui-codec-endpoint
    http://127.0.0.1:8081`, or the UI's Data Encoder setting. With
    CIVICFLOW_CODEC_SERVER_TOKEN set, requests need `Authorization: Bearer <token>`.
    """
    from worker.client import payload_codec
    from worker.codec_server import load_codec_server_settings, serve

    try:
        settings = load_codec_server_settings(host=host, port=port, cors_origins=cors_origins)
        codec = payload_codec(load_settings())
    except ConfigError as err:
        raise _fail(err, 2) from None
    if codec is None:
        msg = (
            "CIVICFLOW_PAYLOAD_KEYS is not set (nor CIVICFLOW_PAYLOAD_KEYS_FILE): nothing to decode"
        )
        raise _fail(msg, 2)
    configure_logging("info", "auto")

    def announce(url: str) -> None:
        keys = ", ".join(codec.key_ids)
        typer.echo(f"civicflow codec-server: serving {url} (keys {keys}; Ctrl-C stops)")

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_handlers(stop)
        await serve(settings, codec, stop, ready=announce)

    try:
        asyncio.run(main())
    except PortInUseError as err:
        raise _fail(err, 1) from None
    except asyncio.CancelledError:
        raise typer.Exit(130) from None
