"""Find Debian's chromium for Playwright, installing it with apt-get where that is possible.

CI runs `.ci/run` on a fresh clone of this kind of machine (Debian, root, apt): there the
browser tests must run, not skip, so a missing chromium is installed. Where no browser can be
installed (no root, no apt-get, no network) the tests skip with a message that says why and
what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["BrowserUnavailableError", "find_or_install_chromium"]

CANDIDATES = ("chromium", "chromium-browser")
INSTALL_TIMEOUT_SECONDS = 900


class BrowserUnavailableError(RuntimeError):
    """No chromium here and none could be installed; the message says why."""


def _which() -> str | None:
    explicit = os.environ.get("CIVICFLOW_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )


def find_or_install_chromium() -> str:
    """Path of a chromium binary; installs Debian's package first if root and apt allow it."""
    found = _which()
    if found:
        return found
    if shutil.which("apt-get") is None:
        msg = "chromium is not installed and there is no apt-get to install it"
        raise BrowserUnavailableError(msg)
    if os.geteuid() != 0:
        msg = "chromium is not installed; run `sudo apt-get install -y chromium` (needs root)"
        raise BrowserUnavailableError(msg)
    result = _apt("install", "-y", "chromium")
    if result.returncode != 0:  # package lists may be missing on a fresh machine
        _apt("update")
        result = _apt("install", "-y", "chromium")
    found = _which()
    if result.returncode != 0 or not found:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        msg = f"apt-get install chromium failed (exit {result.returncode}): {' | '.join(tail)}"
        raise BrowserUnavailableError(msg)
    return found
