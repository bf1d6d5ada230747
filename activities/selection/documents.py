"""A selection's documents: report, per-person probabilities, published distribution, plots.

Written into the procedure's documents folder (`SelectionSettings.procedure_folder`); the
SHA-256 of every file goes into the `panel.selected` audit event, so the hash-chained log
vouches for the files and anyone can check a published copy. Nothing here is personal data:
people appear only by their pseudonymous participant id.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

from activities.selection.report import SelectionOutcome

__all__ = ["selection_files", "write_files"]


def selection_files(outcome: SelectionOutcome, *, plots: bool = True) -> dict[str, bytes]:
    """File name -> content of everything a selection publishes."""
    report = {
        "panel": outcome.panel,
        "audit": outcome.audit.model_dump(mode="json"),
        "report": outcome.report.model_dump(mode="json"),
    }
    files = {"report.json": (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode()}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "probability", "selected"])
    chosen = set(outcome.panel)
    for pid, p in sorted(outcome.probabilities.items()):
        writer.writerow([pid, f"{p:.6f}", "yes" if pid in chosen else "no"])
    files["probabilities.csv"] = buffer.getvalue().encode()
    if outcome.distribution is not None:
        text = json.dumps(outcome.distribution, sort_keys=True, separators=(",", ":"))
        files["distribution.json"] = (text + "\n").encode()
    if plots:
        from activities.selection.plots import render_plots  # matplotlib: only here

        files.update(render_plots(outcome))
    return files


def write_files(folder: Path, files: dict[str, bytes]) -> dict[str, str]:
    """Write each file atomically (temporary name, then rename); name -> SHA-256 hex."""
    folder.mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    for name, content in sorted(files.items()):
        target = folder / name
        temporary = folder / f".{name}.partial"
        temporary.write_bytes(content)
        os.replace(temporary, target)
        digests[name] = hashlib.sha256(content).hexdigest()
    return digests
