"""`civicflow bench`: the benchmark harness in `bench/` (issue 8), civicflow vs bare Temporal.

The harness lives in the source checkout (`bench/` is not part of the installed packages: it
starts servers and writes reports, nothing a deployed worker needs), so this command finds
the checkout this package was installed from in editable mode and imports it from there.
"""

from __future__ import annotations

import importlib
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["BenchMode", "bench", "checkout"]


class BenchMode(StrEnum):
    full = "full"
    quick = "quick"
    smoke = "smoke"
    issue = "issue"


def checkout() -> Path:
    """The source checkout that holds `bench/run.py`; refuse clearly when there is none."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / "run.py").is_file():
        msg = f"civicflow bench needs the source checkout (no bench/run.py under {root})"
        raise FileNotFoundError(msg)
    return root


def bench(
    quick: Annotated[bool, typer.Option("--quick", help="smaller sizes, under 2 minutes")] = False,
    mode: Annotated[
        BenchMode | None,
        typer.Option(
            help="full (default), quick (= --quick), smoke (the test's tiny sizes) or issue "
            "(the issue's own sizes, once each: run it scenario by scenario with --only)"
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="directory for latest.json, report.md, plots (default bench/results)"),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL (CIVICFLOW_DATABASE_URL); a schema of its own is used"),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="run only this scenario (repeatable): start, intake, large_hearing, storage, "
            "deadlines, idle"
        ),
    ] = None,
) -> None:
    """Benchmark civicflow against a bare-Temporal baseline on a dev server of its own."""
    chosen = mode.value if mode is not None else "quick" if quick else "full"
    try:
        root = checkout()
    except FileNotFoundError as err:
        typer.echo(f"civicflow bench: {err}", err=True)
        raise typer.Exit(1) from None
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    run = importlib.import_module("bench.run")
    wanted = frozenset(only) if only else None
    if wanted is not None and not wanted <= run.SCENARIOS:
        unknown = ", ".join(sorted(wanted - run.SCENARIOS))
        typer.echo(
            f"civicflow bench: --only: unknown scenario {unknown}; expected one of "
            + ", ".join(sorted(run.SCENARIOS)),
            err=True,
        )
        raise typer.Exit(2)
    code: int = run.main(chosen, output or root / "bench" / "results", database_url, wanted)
    raise typer.Exit(code)
