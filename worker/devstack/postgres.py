"""Embedded PostgreSQL for machines that have none, via pgserver, with data kept on disk."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path

__all__ = ["EmbeddedPostgresError", "start_embedded_postgres"]


class EmbeddedPostgresError(RuntimeError):
    """pgserver could not initialise or start PostgreSQL in the data directory."""


def start_embedded_postgres(data_dir: Path) -> tuple[str, Callable[[], None]]:
    """Start (or re-attach to) PostgreSQL in `data_dir`; return its URL and a stop function.

    pgserver runs the server in its own session, so a Ctrl-C in the terminal does not reach
    it; the returned function stops it after our worker has drained.
    """
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers); it falls back fine.
            warnings.simplefilter("ignore")
            # Imported here: only `civicflow dev` without a database URL needs pgserver.
            from pgserver.postgres_server import get_server

            server = get_server(data_dir, cleanup_mode="stop")
        url: str = server.get_uri()
    except Exception as err:  # pgserver raises assorted errors (initdb, pg_ctl, permissions)
        reason = " ".join(str(err).split()) or type(err).__name__
        msg = f"embedded PostgreSQL in {data_dir} did not start: {reason}"
        raise EmbeddedPostgresError(msg) from err
    return url, server.cleanup
