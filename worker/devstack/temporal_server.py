"""The Temporal dev server as a child process we own: start, wait until ready, stop.

It runs in its own session so a Ctrl-C in the terminal reaches only `civicflow dev`, which
then stops the worker first (it still needs the server to drain) and the server last. On Linux
the child also gets SIGTERM if we die without cleaning up (PR_SET_PDEATHSIG), so even a
killed `civicflow dev` leaves no orphaned server behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

__all__ = ["DevServerError", "TemporalDevServer", "search_attribute_flags"]

_CLI_TYPES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


class DevServerError(RuntimeError):
    """The Temporal dev server did not come up; the message quotes its last log line."""


def search_attribute_flags(keys: Sequence[SearchAttributeKey[Any]]) -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in keys:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPES[key.indexed_value_type]}"]
    return flags


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function asking Linux to SIGTERM the child when we exit, else None."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    prctl = libc.prctl  # resolved here: the child must not load libraries after fork
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


@dataclass
class TemporalDevServer:
    """`temporal server start-dev` with a persistent database file and pinned ports."""

    binary: Path
    db_file: Path
    log_file: Path
    host: str
    grpc_port: int
    ui_port: int
    http_port: int
    search_attributes: Sequence[SearchAttributeKey[Any]] = ()
    ui_codec_endpoint: str | None = None
    """The codec server the Web UI decodes payloads through (only with payload keys)."""
    _process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    def command(self) -> list[str]:
        return [
            str(self.binary),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_file),
            "--ip",
            self.host,
            "--port",
            str(self.grpc_port),
            "--ui-port",
            str(self.ui_port),
            "--http-port",
            str(self.http_port),
            "--ui-disable-news-fetch",
            "--log-level",
            "warn",
            *search_attribute_flags(self.search_attributes),
            *(["--ui-codec-endpoint", self.ui_codec_endpoint] if self.ui_codec_endpoint else []),
        ]

    def start(self) -> None:
        """Spawn the server; its output goes to `log_file`, not into our terminal."""
        self.db_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self._process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),  # only prctl, pre-resolved: safe after fork
        )

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    async def wait_ready(self, within_seconds: float = 60.0) -> None:
        """Poll the pinned HTTP API until the default namespace answers."""
        assert self._process is not None
        url = f"http://{self.host}:{self.http_port}/api/v1/namespaces/default"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while True:
            code = self._process.poll()
            if code is not None:
                msg = f"temporal dev server exited with code {code}: {self._last_log_line()}"
                raise DevServerError(msg)
            if await asyncio.to_thread(_answers, url):
                return
            if loop.time() > deadline:
                msg = (
                    f"temporal dev server did not answer on {url} within {within_seconds:g}s; "
                    f"see {self.log_file}"
                )
                raise DevServerError(msg)
            await asyncio.sleep(0.25)

    async def stop(self, grace_seconds: float = 20.0) -> None:
        """SIGTERM, wait; SIGKILL if it lingers; always reap, so no zombie or orphan remains."""
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    await asyncio.to_thread(process.wait, grace_seconds)
                except subprocess.TimeoutExpired:
                    process.kill()
                    await asyncio.to_thread(process.wait)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def _last_log_line(self) -> str:
        with contextlib.suppress(OSError):
            lines = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
            for line in reversed(lines):
                if line.strip():
                    return line.strip()[:300]
        return f"(no output; see {self.log_file})"


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310  (our own loopback server)
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False
