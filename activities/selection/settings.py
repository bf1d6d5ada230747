"""Where selection inputs come from and where its documents go (`CIVICFLOW_SELECTION_*`).

Pools of registrants and population-register extracts hold personal data: they are files an
administrator places in `data_dir` (never workflow payloads), and a definition or an update
names them by file name only. A selection's report, plots and published distribution are the
procedure's documents: `documents_dir/<procedure id>/selection/<selection id>/`, next to
whatever else the procedure publishes, and their SHA-256 digests go into the audit event, so
the hash chain vouches for the files.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["FILE_NAME", "FileNameError", "SelectionSettings"]

FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
"""A relative name inside a folder: no absolute path, no segment starting with a dot."""


class FileNameError(ValueError):
    """A file name from a definition or an update that would leave its folder."""


class SelectionSettings(BaseSettings):
    """Folders of the selection activities; relative paths are relative to the worker's cwd."""

    model_config = SettingsConfigDict(
        env_prefix="CIVICFLOW_SELECTION_", extra="forbid", frozen=True
    )

    data_dir: Path = Field(
        default=Path(".civicflow/selection"),
        description="pool CSVs and population-register extracts (personal data, not published)",
    )
    documents_dir: Path = Field(
        default=Path(".civicflow/documents"),
        description="procedure documents: selection reports, plots, distributions, wave lists",
    )

    def data_file(self, name: str) -> Path:
        """`name` inside `data_dir`; FileNameError for absolute paths or `..`."""
        return _inside(self.data_dir, name)

    def procedure_folder(self, procedure_id: str, *parts: str) -> Path:
        """`documents_dir/<procedure id>/<parts...>` (each part a plain name)."""
        return _inside(self.documents_dir, "/".join((procedure_id, *parts)))


def _inside(root: Path, name: str) -> Path:
    if FILE_NAME.match(name) is None:
        msg = (
            f"file name {name!r}: expected a relative name inside the folder "
            "(letters, digits, '_', '-', '.', '/'; no segment starting with '.')"
        )
        raise FileNameError(msg)
    return root / name
