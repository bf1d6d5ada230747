"""Finding chromium: the explicit setting wins, and without a browser or a way to install one
the reason is clear (this is what the browser tests print when they skip)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.browser.chromium import BrowserUnavailableError, find_or_install_chromium


def test_explicit_executable_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "my-chromium"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.setenv("CIVICFLOW_CHROMIUM", str(binary))
    assert find_or_install_chromium() == str(binary)


def test_found_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = tmp_path / "chromium"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.delenv("CIVICFLOW_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_or_install_chromium() == str(binary)


def test_without_chromium_and_apt_the_reason_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIVICFLOW_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no chromium, no apt-get
    assert shutil.which("apt-get") is None
    with pytest.raises(BrowserUnavailableError, match="no apt-get to install it"):
        find_or_install_chromium()


def test_a_failing_install_or_missing_root_gives_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With an apt-get that fails (no network, broken lists): root sees apt's error after a
    retry with `apt-get update`; anyone else is told the command to run."""
    apt = tmp_path / "apt-get"
    calls = tmp_path / "calls"
    apt.write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\necho "E: Unable to locate package" >&2\nexit 100\n'
    )
    apt.chmod(0o755)
    monkeypatch.delenv("CIVICFLOW_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    if os.geteuid() == 0:
        with pytest.raises(BrowserUnavailableError, match=r"failed \(exit 100\): E: Unable"):
            find_or_install_chromium()
        assert calls.read_text().splitlines() == [
            "install -y chromium",
            "update",
            "install -y chromium",
        ]
    else:
        with pytest.raises(BrowserUnavailableError, match="apt-get install -y chromium"):
            find_or_install_chromium()
        assert not calls.exists()
